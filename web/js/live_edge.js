// Keeping a live <video> at the live edge: given the newest buffered range
// and the playhead, where to seek (if anywhere) and how fast to play. After
// a stall (a hidden tab whose video the browser paused, a slow network that
// then delivers a burst, a busy CPU) the media buffered ahead of the
// playhead grows; without this, that lag would stay for good and add up.
//
// Slightly behind: play faster, 1.1× to 1.5× the further behind, until back
// near the target. Far behind, or outside the newest range: jump to just
// before its end.

export const TARGET_LAG_S = 0.15; // where a jump lands, and where catching up stops
// Above this, play faster. A subscription starts with the GOP cache (up to a
// second of frames at once), and without catching up the playhead would stay
// that far behind.
export const CATCHUP_LAG_S = 0.3;
export const JUMP_LAG_S = 0.6; // above this, jump
export const MIN_CATCHUP_RATE = 1.1;
export const MAX_CATCHUP_RATE = 1.5;
const SETTLED_S = TARGET_LAG_S + 0.05; // catching up stops below this
const MIN_SEEK_S = 0.05; // smaller moves are not worth a seek

// `start`, `end`: the newest buffered range; `time`: the playhead; `rate`:
// the current playbackRate. Returns {seek: a time or null, rate}.
export function liveEdgeStep({ start, end, time, rate = 1 }) {
  const lag = end - time;
  if (time < start || time > end || lag > JUMP_LAG_S) {
    // Outside the newest range (a gap, or media before the first keyframe
    // kept), or too far behind: go to the live edge.
    const target = Math.max(start, end - TARGET_LAG_S);
    return { seek: Math.abs(target - time) > MIN_SEEK_S ? target : null, rate: 1 };
  }
  if (lag > CATCHUP_LAG_S || (rate > 1 && lag > SETTLED_S)) return { seek: null, rate: catchUpRate(lag) };
  return { seek: null, rate: 1 };
}

// The faster the further behind: 1.1× just past the target, 1.5× at most,
// in steps of 0.05 so the rate does not change on every tick.
export function catchUpRate(lag) {
  const rate = Math.round((1 + (lag - TARGET_LAG_S)) * 20) / 20;
  return Math.min(MAX_CATCHUP_RATE, Math.max(MIN_CATCHUP_RATE, rate));
}
