// The newest sample, live: Server-Sent Events from /v1/stream, falling back to polling
// /v1/realtime after repeated stream errors, and trying the stream again now and then. A site
// (several inverters summed) has no stream: /v1/sites/realtime is polled.
import * as api from './api.js';

const STREAM_ERRORS_BEFORE_POLLING = 3;
const POLL_INTERVAL_MS = 5000;
const STREAM_RETRY_MS = 30000;

// target: { kind: 'device' | 'site', id }. onSample(sample, receivedAt) for each newer sample (a
// site's: its sums, with each device's sample under `devices`); onTransport('stream' | 'poll');
// onNoData() when nothing has been sent yet; onAuthLost() on 401. Returns stop().
export function startLive(target, handlers) {
  return target.kind === 'site' ? followSite(target.id, handlers) : followDevice(target.id, handlers);
}

// The newest of what arrives, never stepping back in time (a late answer after a newer one).
function newestOnly(onSample) {
  let newest = null;
  return (sample) => {
    if (!sample || typeof sample !== 'object') return;
    if (newest && Date.parse(sample.ts) < Date.parse(newest.ts)) return;
    newest = sample;
    onSample(sample, performance.now());
  };
}

function followSite(siteId, { onSample, onTransport, onNoData, onAuthLost }) {
  let stopped = false;
  const accept = newestOnly(onSample);
  const poll = async () => {
    try {
      const site = await api.siteRealtime(siteId);
      if (!stopped) accept(site);
    } catch (error) {
      if (stopped) return;
      if (error.status === 401) onAuthLost();
      else if (error.status === 404) onNoData();
    }
  };
  onTransport('poll');
  poll();
  const timer = setInterval(poll, POLL_INTERVAL_MS);
  return function stop() {
    stopped = true;
    clearInterval(timer);
  };
}

function followDevice(deviceId, { onSample, onTransport, onNoData, onAuthLost }) {
  let stopped = false;
  let source = null;
  let pollTimer = null;
  let retryTimer = null;
  let errors = 0;
  // Out-of-order arrivals (a poll answered after a stream event) must not step back in time.
  const newest = newestOnly(onSample);
  const accept = (sample) => {
    if (!stopped) newest(sample);
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
