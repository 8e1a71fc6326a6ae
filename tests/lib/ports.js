// Loopback ports for test peers: bound to port 0, read, released, and handed
// to whoever will listen on them. Within one test process a port is never
// handed out twice: the kernel may give a just-released port back at once,
// and two peers of one test would then fight over it. (Another process can
// still take a port between its release and its use; nothing here can stop
// that.)
import dgram from 'node:dgram';
import net from 'node:net';

const given = new Set();

// tests/run_all.sh runs test files in lanes side by side; each lane takes
// only ports in its own blocks of 16 (a lane's pair port + 1 stays its own
// too), so two lanes never hand out the same port.
const LANES = Number(process.env.VIGIL_TEST_LANES) || 1;
const LANE = Number(process.env.VIGIL_TEST_LANE) || 0;
const ours = (p) => Math.floor(p / 16) % LANES === LANE;

function bindOnce(kind, port = 0) {
  return new Promise((resolve) => {
    const done = (p) => resolve(p);
    if (kind === 'tcp') {
      const s = net.createServer();
      s.unref();
      s.on('error', () => done(0));
      s.listen(port, '127.0.0.1', () => { const p = s.address().port; s.close(() => done(p)); });
    } else {
      const s = dgram.createSocket('udp4');
      s.on('error', () => done(0));
      s.bind(port, '127.0.0.1', () => { const p = s.address().port; s.close(() => done(p)); });
    }
  });
}

async function freePortOf(kind) {
  for (let i = 0; i < 50 * LANES; i++) {
    const p = await bindOnce(kind);
    if (p && ours(p) && !given.has(`${kind}:${p}`)) {
      given.add(`${kind}:${p}`);
      return p;
    }
  }
  throw new Error(`no free ${kind} port on 127.0.0.1`);
}

// A TCP port nobody listens on.
export const freeTcpPort = () => freePortOf('tcp');

// A UDP port nobody is bound to.
export const freeUdpPort = () => freePortOf('udp');

// Two free UDP ports in a row, port and port + 1 (coap-server's DTLS
// endpoint is the next port); returns the first.
export async function freeUdpPair() {
  for (let i = 0; i < 20; i++) {
    const p = await freeUdpPort();
    if (p >= 65535 || !ours(p + 1) || given.has(`udp:${p + 1}`)) continue;
    if (await bindOnce('udp', p + 1) === p + 1) {
      given.add(`udp:${p + 1}`);
      return p;
    }
  }
  throw new Error('no free UDP port pair');
}
