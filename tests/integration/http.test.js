// HTTP correctness of the REST API, each with curl (the real binary) and a
// Node client: HEAD, keep-alive, 405 with Allow for a
// wrong method, JSON 404 for unknown paths, and the request-header limit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { startVigil } from '../lib/vigil.js';

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
  const get = await nodeRequest('GET', '/api/streams');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const head = await nodeRequest('HEAD', '/api/streams', { agent });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(head.headers['content-type'], 'application/json');
  assert.equal(Number(head.headers['content-length']), Buffer.byteLength(get.body));
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

// Requests one after the other on one connection. (Pipelining, several
// requests in one write before any answer, is not covered: lws 4.1 in our
// libev loop answers the first two and leaves the rest buffered until the
// client sends again.)
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

test('request headers: 8 KiB in all; a longer request is dropped without disturbing others', { timeout: 90000 }, async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const first = await nodeRequest('GET', '/api/health', { agent });
  assert.equal(first.status, 200);
  // A long token's worth of cookie still fits.
  const fits = await nodeRequest('GET', '/api/streams', { headers: { cookie: 'a'.repeat(5000) } });
  assert.equal(fits.status, 200);
  assert.equal(curl(['-H', auth(), '-H', `X-Pad: ${'b'.repeat(5000)}`, `${vigil.base}/api/streams`]).responses[0].status, 200);
  // Too much: no response, the connection closes.
  await assert.rejects(nodeRequest('GET', '/api/streams', { headers: { cookie: 'a'.repeat(12000) } }), /socket hang up|ECONNRESET/);
  const r = spawnSync('curl', ['-s', '--max-time', '15', '-o', '/dev/null', '-w', '%{http_code}', '-H', `X-Pad: ${'b'.repeat(12000)}`, `${vigil.base}/api/health`], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.stdout, '000', 'curl got no response');
  // The kept-alive connection from before is served on.
  assert.equal((await nodeRequest('GET', '/api/health', { agent })).status, 200);
  agent.destroy();
});
