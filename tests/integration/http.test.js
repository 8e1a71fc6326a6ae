// HTTP correctness of the REST API, each with curl (the real binary) and a
// Node client: HEAD, keep-alive and pipelining, 405 with Allow for a wrong
// method, JSON 404 for unknown paths, the request-header limits, and the
// refusals counted in /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { startVigil } from '../lib/vigil.js';
import { rawPipeline } from '../lib/raw_http.js';

let vigil;
before(async () => {
  vigil = await startVigil({ config: { streams: [{ id: 'cam', source: 'test://', options: { width: 160, height: 120 } }] } });
});
after(async () => {
  const st = await vigil.stop();
  assert.equal(st.code, 0, vigil.log().slice(-2000));
});

const auth = () => `Authorization: Bearer ${vigil.adminToken}`;

// curl -i: {status, headers (lower-cased), body} of each response, and how
// many connections it opened.
function curl(args) {
  const r = spawnSync('curl', ['-s', '-i', '--http1.1', '--max-time', '10', '-w', '\n#connects=%{num_connects}\n', ...args], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, r.stderr);
  const connects = Number(/#connects=(\d+)/.exec(r.stdout)[1]);
  const responses = r.stdout.split(/(?=^HTTP\/1\.1 )/m).filter((p) => p.startsWith('HTTP/1.1')).map((raw) => {
    const [head, ...rest] = raw.split('\r\n\r\n');
    const lines = head.split('\r\n');
    const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    return { status: Number(lines[0].split(' ')[1]), headers, body: rest.join('\r\n\r\n').replace(/\n#connects=\d+\n$/, '') };
  });
  return { responses, connects };
}

// Node's http client with a keep-alive agent.
function nodeRequest(method, path, { headers = {}, body, agent } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: vigil.port, method, path, agent, headers: { authorization: `Bearer ${vigil.adminToken}`, ...headers } }, (res) => {
      let data = '';
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    // Bounded: lws reaps a connection that never finishes within 10 s, so a
    // request the server drops ends by then with "socket hang up".
    req.setTimeout(15000, () => req.destroy(new Error('no answer in 15 s')));
    if (body) req.end(body); else req.end();
  });
}

test('HEAD: GET\'s status and headers, no body, and the connection goes on', { timeout: 90000 }, async () => {
  // A stream's figures (state, fps) move between two requests: the HEAD's
  // length must be that of a GET just before or just after it.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get1 = await nodeRequest('GET', '/api/streams');
  const head = await nodeRequest('HEAD', '/api/streams', { agent });
  const get2 = await nodeRequest('GET', '/api/streams');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(head.headers['content-type'], 'application/json');
  assert.ok([get1, get2].some((g) => Number(head.headers['content-length']) === Buffer.byteLength(g.body)),
    `HEAD's length ${head.headers['content-length']} is GET's (${get1.body.length} or ${get2.body.length})`);
  const after = await nodeRequest('GET', '/api/health', { agent });
  assert.equal(after.status, 200, 'the same connection serves the next request');
  agent.destroy();
  for (const path of ['/api/health', '/metrics', '/']) {
    const { responses, connects } = curl(['-I', '-H', auth(), `${vigil.base}${path}`, `${vigil.base}${path}`]);
    assert.equal(connects, 1, `${path}: one connection for two HEADs`);
    assert.equal(responses.length, 2);
    for (const r of responses) {
      assert.equal(r.status, 200, path);
      assert.ok(Number(r.headers['content-length']) > 0, path);
      assert.equal(r.body, '', path);
    }
  }
});

// Several requests in one write on a raw socket; the responses in order.
const pipeline = (text, count) => rawPipeline(vigil.port, text, count);
const get = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${vigil.adminToken}\r\n${extra}\r\n`;

test('pipelining: requests written at once are each answered, in order', { timeout: 90000 }, async () => {
  const paths = ['/api/health', '/api/streams', '/api/nope', '/api/devices', '/api/health', '/metrics'];
  const rs = await pipeline(paths.map((p) => get(p)).join(''), paths.length);
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 404, 200, 200, 200]);
  assert.equal(JSON.parse(rs[0].body).status, 'ok');
  assert.equal(JSON.parse(rs[1].body)[0].id, 'cam', 'the second answer is /api/streams');
  assert.equal(JSON.parse(rs[2].body).error, 'not_found');
  assert.deepEqual(JSON.parse(rs[3].body), []);
  assert.match(rs[5].body, /^# HELP /m);
  // HEAD in a pipeline: its headers only (with GET's Content-Length, so the
  // split above does not apply), then the next response.
  const raw = await new Promise((resolve) => {
    const sock = net.connect(vigil.port, '127.0.0.1');
    let text = '';
    sock.on('data', (d) => { text += d; if ((text.match(/HTTP\/1\.1 /g) || []).length >= 2 && text.includes('"status":"ok"')) { sock.destroy(); resolve(text); } });
    setTimeout(() => { sock.destroy(); resolve(text); }, 15000);
    sock.write(`HEAD /api/streams HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${vigil.adminToken}\r\n\r\n${get('/api/health')}`);
  });
  const [first, second] = raw.split(/(?=HTTP\/1\.1 )/);
  assert.match(first, /^HTTP\/1\.1 200 /);
  assert.ok(first.endsWith('\r\n\r\n'), 'no body after the HEAD headers');
  assert.match(second, /^HTTP\/1\.1 200 [\s\S]*"status":"ok"/);
});

// Requests one after the other on one connection.
test('keep-alive: one connection serves request after request', { timeout: 90000 }, async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set();
  for (const path of ['/api/health', '/api/streams', '/api/nope', '/api/devices', '/metrics']) {
    const r = await new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: vigil.port, path, agent, headers: { authorization: `Bearer ${vigil.adminToken}` } }, (res) => {
        sockets.add(res.socket);
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
      req.setTimeout(15000, () => req.destroy(new Error('no answer in 15 s')));
    });
    assert.equal(r, path === '/api/nope' ? 404 : 200, path);
  }
  assert.equal(sockets.size, 1, 'one connection for every request');
  agent.destroy();
  // curl reuses one connection for several URLs.
  const { responses, connects } = curl(['-H', auth(), `${vigil.base}/api/health`, `${vigil.base}/api/streams`, `${vigil.base}/api/devices`]);
  assert.deepEqual(responses.map((r) => r.status), [200, 200, 200]);
  assert.equal(connects, 1);
});

test('a wrong method: 405 with Allow and a JSON body; unknown paths: JSON 404', { timeout: 90000 }, async () => {
  for (const [method, path, allow] of [['PUT', '/api/streams', 'GET, HEAD'], ['DELETE', '/api/devices', 'GET, HEAD'],
    ['PATCH', '/metrics', 'GET, HEAD'], ['GET', '/api/admin/reload', 'POST'], ['OPTIONS', '/api/health', 'GET, HEAD']]) {
    const r = await nodeRequest(method, path);
    assert.equal(r.status, 405, `${method} ${path}`);
    assert.equal(r.headers.allow, allow, `${method} ${path}`);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(JSON.parse(r.body).error, 'method_not_allowed');
    const c = curl(['-X', method, '-H', auth(), `${vigil.base}${path}`]).responses[0];
    assert.equal(c.status, 405);
    assert.equal(c.headers.allow, allow);
  }
  // With a body announced: answered, and the connection is closed (the body is never read).
  const c = curl(['-X', 'PUT', '-H', auth(), '-d', '{"x":1}', `${vigil.base}/api/streams`]).responses[0];
  assert.equal(c.status, 405);
  assert.equal(c.headers.connection, 'close');
  // A PUT or POST without Content-Length: lws would take what follows for
  // its body, so the connection closes after the answer; a GET after it on
  // a new connection is served.
  const unframed = await pipeline(`PUT /api/streams HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n${get('/api/health')}`, 2);
  assert.deepEqual(unframed.map((r) => r.status), [405], 'one answer, then closed');
  assert.equal(unframed[0].headers.connection, 'close');
  assert.equal(unframed[0].headers.allow, 'GET, HEAD');
  // A method lws does not know: its own 403, and the connection closes (never a hang).
  const trace = await pipeline('TRACE /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 1);
  assert.equal(trace[0].status, 403);
  for (const path of ['/api/nope', '/api/devices/x/y/z', '/api/commands/', '/api']) {
    const r = await nodeRequest('GET', path);
    assert.equal(r.status, 404, path);
    assert.equal(r.headers['content-type'], 'application/json', path);
    assert.equal(JSON.parse(r.body).error, 'not_found', path);
    assert.equal(curl(['-X', 'DELETE', '-H', auth(), `${vigil.base}${path}`]).responses[0].status, 404);
  }
  const long = await nodeRequest('GET', `/api/${'x'.repeat(300)}`);
  assert.equal(long.status, 414);
  assert.equal((await nodeRequest('GET', '/api/health')).status, 200, 'still serving');
});

test('request headers: one over 8 KiB gets 431, over 16 KiB in all the connection is dropped; others go on', { timeout: 90000 }, async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const first = await nodeRequest('GET', '/api/health', { agent });
  assert.equal(first.status, 200);
  // A 4 KiB token's worth of header, and one of exactly 8 KiB, still fit.
  assert.equal((await nodeRequest('GET', '/api/streams', { headers: { 'x-token': 'a'.repeat(4096), cookie: 'c'.repeat(5000) } })).status, 200);
  assert.equal((await nodeRequest('GET', '/api/streams', { headers: { cookie: 'c'.repeat(8192) } })).status, 200);
  assert.equal(curl(['-H', auth(), '-H', `X-Pad: ${'b'.repeat(12000)}`, `${vigil.base}/api/streams`]).responses[0].status, 200,
    'an unknown header is bounded by the 16 KiB only');
  // One header over 8 KiB (a 64 KiB cookie): 431 with the JSON error, and the connection goes on.
  const big = await nodeRequest('GET', '/api/streams', { agent, headers: { cookie: 'a'.repeat(65536) } });
  assert.equal(big.status, 431);
  assert.equal(big.headers['content-type'], 'application/json');
  assert.equal(JSON.parse(big.body).error, 'headers_too_large');
  assert.equal((await nodeRequest('GET', '/api/health', { agent })).status, 200, 'the same connection after the 431');
  const c = curl(['-H', auth(), '-H', `Cookie: ${'d'.repeat(9000)}`, `${vigil.base}/api/health`]).responses[0];
  assert.equal(c.status, 431);
  assert.equal(JSON.parse(c.body).error, 'headers_too_large');
  // More than 16 KiB of headers in all: lws 4.1 drops the connection without a reply.
  const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-h${i}`, 'v'.repeat(100)]));
  await assert.rejects(nodeRequest('GET', '/api/streams', { headers: many }), /socket hang up|ECONNRESET/);
  const r = spawnSync('curl', ['-s', '--max-time', '15', '-o', '/dev/null', '-w', '%{http_code}', '-H', `X-Pad: ${'b'.repeat(20000)}`, `${vigil.base}/api/health`], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.stdout, '000', 'curl got no response');
  // Meanwhile a kept-alive connection and a new one are served.
  assert.equal((await nodeRequest('GET', '/api/health', { agent })).status, 200);
  assert.equal((await nodeRequest('GET', '/api/streams')).status, 200);
  agent.destroy();
});

test('refusals are counted by reason in /metrics', { timeout: 90000 }, async () => {
  const counts = async () => {
    const m = await nodeRequest('GET', '/metrics');
    assert.equal(m.status, 200);
    return Object.fromEntries([...m.body.matchAll(/^vigil_http_refused_total\{reason="(\w+)"\} (\d+)$/gm)].map((x) => [x[1], Number(x[2])]));
  };
  const before = await counts();
  assert.deepEqual(Object.keys(before).sort(), ['body_too_large', 'headers_too_large', 'length_required', 'method', 'not_found', 'uri_too_long']);
  assert.equal((await nodeRequest('DELETE', '/api/streams')).status, 405);
  assert.equal((await nodeRequest('GET', '/api/nope')).status, 404);
  assert.equal((await nodeRequest('GET', '/api/streams', { headers: { cookie: 'a'.repeat(9000) } })).status, 431);
  assert.equal((await nodeRequest('GET', `/api/${'x'.repeat(300)}`)).status, 414);
  const after = await counts();
  for (const reason of ['method', 'not_found', 'headers_too_large', 'uri_too_long'])
    assert.equal(after[reason], before[reason] + 1, reason);
  assert.equal(after.length_required, before.length_required);
});
