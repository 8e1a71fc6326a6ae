/* audio_branch.h -- the audio track of a stream's pipeline: the elements
 * between a source's audio and mp4mux's audio pad, beside the video.
 *
 *   test tone        audiotestsrc (a beep a second) -> opusenc
 *   Opus (demuxed)   opusparse                    passed through, not re-encoded
 *   AAC  (demuxed)   aacparse                     passed through
 *   RTP Opus         rtpopusdepay -> opusparse    passed through
 *   RTP AAC          rtpmp4gdepay (MPEG4-GENERIC) / rtpmp4adepay (MP4A-LATM)
 *                    -> aacparse                  passed through
 *   publisher        appsrc -> opusparse/aacparse passed through (publish://:
 *                    media/publish.c pushes the publisher's frames)
 *   RTP PCMU / PCMA  rtppcmudepay/rtppcmadepay -> mulawdec/alawdec ->
 *                    audioconvert -> audioresample (48 kHz) -> opusenc:
 *                    G.711 is transcoded to Opus, which Chromium's MSE
 *                    plays in fMP4 and GStreamer encodes with plugins-base
 *
 * One audio track per stream (the first one offered); the others are left
 * out. The pipeline makes a vg_audio next to its mp4mux before it builds the
 * source, and sources find it with vg_audio_of() on the pipeline.
 *
 * A source may announce audio that never comes (a camera with its
 * microphone off that still lists an audio stream). mp4mux waits for every
 * pad before it writes anything, so such a track would hold the video back
 * for good: when video has reached the muxer and no audio has come within
 * VG_AUDIO_WAIT_MS, the audio pad is released and the stream goes on as
 * video only (logged as a warning).
 *
 * Thread: vg_audio_new/vg_audio_codecs as documented; the add functions run
 * on whichever thread builds the source (the lws thread, or a source's
 * streaming thread for pads that appear later, such as rtspsrc's). */
#ifndef VIGIL_MEDIA_AUDIO_BRANCH_H
#define VIGIL_MEDIA_AUDIO_BRANCH_H

#include <gst/gst.h>
#include <stdbool.h>
#include <stddef.h>

#define VG_AUDIO_WAIT_MS 3000

typedef struct vg_audio vg_audio;

/* Creates the audio side of `pipeline`, feeding `mux` (already in the
 * pipeline). The pipeline owns it (object data): it lives exactly as long as
 * the pipeline. Call vg_audio_stop() once the pipeline is in NULL state.
 * NULL on OOM. (lws thread) */
vg_audio *vg_audio_new(GstPipeline *pipeline, GstElement *mux);

/* The vg_audio of a pipeline, or NULL. */
vg_audio *vg_audio_of(GstPipeline *pipeline);

/* Cancels the wait for audio and lets go of the pipeline reference it
 * holds; call once the pipeline is in NULL state, before unreffing it. */
void vg_audio_stop(vg_audio *a);

/* True while mp4mux has an audio pad, so that a video fragment may wait for
 * audio before it comes out. Any thread. */
bool vg_audio_has_track(vg_audio *a);

/* The test tone: audiotestsrc -> opusenc -> mux. -1 with err set. */
int vg_audio_add_test_tone(vg_audio *a, char *err, size_t errlen);

/* True when `caps` (a demuxer's pad) is audio this module passes through
 * (Opus, AAC) and no audio track is set up yet. */
bool vg_audio_wants_encoded(vg_audio *a, const GstCaps *caps);

/* Builds queue -> parser -> clocksync (real-time pacing) -> mux for a
 * demuxer's audio pad and links the pad to it. Called from the demuxer's
 * pad-added; a failure posts an element error on the pipeline. */
void vg_audio_link_encoded_pad(vg_audio *a, GstPad *pad);

/* True when `caps` (application/x-rtp, as in rtspsrc's select-stream) is an
 * audio encoding this module takes (OPUS, MPEG4-GENERIC, MP4A-LATM, PCMU,
 * PCMA) and no audio track is set up yet. */
bool vg_audio_wants_rtp(vg_audio *a, const GstCaps *caps);

/* Builds the depayloader chain for that RTP audio and links it to the mux,
 * ahead of its packets (rtspsrc's select-stream). -1 with err set. */
int vg_audio_add_rtp(vg_audio *a, const GstCaps *caps, char *err, size_t errlen);

/* A push source's sound (srtp://, rtp://: packets already decrypted and
 * checked by media/rtp_rx.c): a live, leaky appsrc of RTP with `caps`
 * (application/x-rtp, media=audio) -> rtpjitterbuffer (latency_ms) -> the
 * chain of vg_audio_add_rtp() -> mux. Returns the appsrc (borrowed: the
 * pipeline owns it); NULL with err set. Call before the pipeline starts.
 * (lws thread) */
GstElement *vg_audio_add_rtp_appsrc(vg_audio *a, GstCaps *caps, guint latency_ms, size_t max_bytes,
                                    char *err, size_t errlen);

/* Links an RTP audio pad (rtspsrc's pad-added) to the chain made by
 * vg_audio_add_rtp(); false when the pad is not that audio. */
bool vg_audio_link_rtp_pad(vg_audio *a, GstPad *pad);

/* A publisher's audio (publish://): a live, leaky appsrc of at most
 * max_bytes with `caps` (audio/x-opus, or raw AAC with codec_data) ->
 * opusparse or aacparse -> mux. Returns the appsrc (borrowed: the pipeline
 * owns it); NULL with err set. Call before the pipeline starts. (lws thread) */
GstElement *vg_audio_add_appsrc(vg_audio *a, GstCaps *caps, size_t max_bytes, char *err,
                                size_t errlen);

/* The RFC 6381 codec of the audio track ("opus", "mp4a.40.2"), or NULL when
 * the stream has none (or it was given up). From the muxer pad's caps once
 * they are there, before that what the branch was built for: the stream's
 * codecs are known from the first video caps on (WebCodecs delivery makes
 * the stream live before mp4mux has written anything). g_free() it. */
char *vg_audio_codecs(vg_audio *a);

/* The stream's codecs string: `video`, then the audio track's codec when
 * there is one ("avc1.64001f,opus"). malloc'd (free()), NULL on OOM. */
char *vg_audio_codecs_after(vg_audio *a, const char *video);

#endif
