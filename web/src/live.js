// The newest sample, live: Server-Sent Events from /v1/stream, falling back to polling
// /v1/realtime after repeated stream errors, and trying the stream again now and then.
import * as api from './api.js';

const STREAM_ERRORS_BEFORE_POLLING = 3;
const POLL_INTERVAL_MS = 5000;
const STREAM_RETRY_MS = 30000;

// onSample(sample, receivedAt) for each newer sample; onTransport('stream' | 'poll');
// onNoData() when the device has sent nothing yet; onAuthLost() on 401. Returns stop().
export function startLive(deviceId, { onSample, onTransport, onNoData, onAuthLost }) {
  let stopped = false;
  let source = null;
  let pollTimer = null;
  let retryTimer = null;
  let errors = 0;
  let newest = null;

  const accept = (sample) => {
    if (stopped || !sample || typeof sample !== 'object') return;
    // Out-of-order arrivals (a poll answered after a stream event) must not step back in time.
    if (newest && Date.parse(sample.ts) < Date.parse(newest.ts)) return;
    newest = sample;
    onSample(sample, performance.now());
  };

  const poll = async () => {
    try {
      accept(await api.realtime(deviceId));
    } catch (error) {
      if (stopped) return;
      if (error.status === 401) onAuthLost();
      else if (error.status === 404) onNoData();
    }
  };

  const startPolling = () => {
    if (pollTimer || stopped) return;
    onTransport('poll');
    poll();
    pollTimer = setInterval(poll, POLL_INTERVAL_MS);
    retryTimer = setInterval(openStream, STREAM_RETRY_MS);
  };

  const stopPolling = () => {
    clearInterval(pollTimer);
    clearInterval(retryTimer);
    pollTimer = null;
    retryTimer = null;
  };

  function openStream() {
    if (stopped) return;
    source?.close();
    errors = 0;
    const stream = new EventSource(api.streamUrl(deviceId));
    source = stream;
    stream.addEventListener('open', () => {
      if (source !== stream) return;
      errors = 0;
      stopPolling();
      onTransport('stream');
    });
    stream.addEventListener('sample', (event) => {
      if (source !== stream) return;
      try {
        accept(JSON.parse(event.data));
      } catch {
        // A malformed event is skipped; the next one or the poll brings the state back.
      }
    });
    stream.addEventListener('error', () => {
      if (source !== stream) return;
      errors += 1;
      // CLOSED: the server answered with an error status (EventSource gives up by itself).
      if (stream.readyState === EventSource.CLOSED || errors >= STREAM_ERRORS_BEFORE_POLLING) {
        stream.close();
        source = null;
        startPolling();
      }
    });
  }

  // A first answer at once, whatever the stream does.
  poll();
  openStream();

  return function stop() {
    stopped = true;
    source?.close();
    source = null;
    stopPolling();
  };
}
