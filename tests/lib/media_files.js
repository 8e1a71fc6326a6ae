// Media files for file:// test streams, made with gst-launch-1.0.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { tempDir } from './vigil.js';

// An H.265 MP4 (x265, which sends B-frames) of `frames` frames at 25 fps, a
// keyframe every `keyInt`; returns its path.
export function makeH265Mp4({ width = 320, height = 240, frames = 125, pattern = 'ball', keyInt = 25 } = {}) {
  const file = path.join(tempDir('vigil-h265-'), 'h265.mp4');
  const r = spawnSync('gst-launch-1.0', ['-q', 'videotestsrc', `num-buffers=${frames}`, `pattern=${pattern}`, '!',
    `video/x-raw,format=I420,width=${width},height=${height},framerate=25/1`, '!', 'x265enc', 'speed-preset=ultrafast',
    `key-int-max=${keyInt}`, '!', 'h265parse', '!', 'mp4mux', '!', 'filesink', `location=${file}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gst-launch: ${r.stderr}`);
  return file;
}
