// HTTP/1.1 on a raw socket, for what clients hide: several requests in one
// write (pipelining) and the responses as the server sent them.
import net from 'node:net';

// Writes `text` (one or more requests) to 127.0.0.1:`port` at once; resolves
// with the responses, split by their Content-Length, in order: {status,
// headers (lower-cased names), body (text), bytes (the body as a Buffer)}.
// Resolves once `count` responses are in, or with what came when the server
// closes or after `timeoutMs`.
export function rawPipeline(port, text, count, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const responses = [];
    const done = () => { clearTimeout(timer); sock.destroy(); resolve(responses); };
    const timer = setTimeout(done, timeoutMs);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers = Object.fromEntries(head.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const len = Number(headers['content-length'] ?? 0);
        if (buf.length < end + 4 + len) break;
        const bytes = buf.subarray(end + 4, end + 4 + len);
        responses.push({ status: Number(head[0].split(' ')[1]), headers, body: bytes.toString(), bytes });
        buf = buf.subarray(end + 4 + len);
      }
      if (responses.length >= count) done();
    });
    sock.on('close', done);
    sock.on('error', reject);
    sock.write(text);
  });
}
