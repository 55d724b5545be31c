/** Tracker error text for people: the URL named once, without the announce query (issue 13 item 15). */
import { describe, expect, it } from 'vitest';
import { BtError } from '../../../../src/core/errors.js';
import { toErrorView, trackerErrorMessage, withoutQueries } from '../../../../src/cli/render/tracker.js';

describe('withoutQueries', () => {
  it('drops the query of every http(s) URL in a message, and nothing else', () => {
    expect(withoutQueries('http://t.example:6969/announce?info_hash=%01%23&peer_id=-BK0100-x&port=6881: connection refused')).toBe(
      'http://t.example:6969/announce: connection refused',
    );
    expect(withoutQueries('`https://a/announce?passkey=secret` and http://b/x?y=1')).toBe('`https://a/announce` and http://b/x');
    expect(withoutQueries('udp://c:1/announce: no answer within 15 s')).toBe('udp://c:1/announce: no answer within 15 s');
    expect(withoutQueries('is this a question? yes')).toBe('is this a question? yes');
  });
});

describe('trackerErrorMessage', () => {
  it('names the tracker once, without its query, whether or not the core message already did', () => {
    const url = 'http://t/announce?passkey=secret';
    const named = toErrorView(new BtError('TRACKER_UNREACHABLE', 'network', 'http://t/announce?info_hash=%01&port=1: connection refused'));
    expect(trackerErrorMessage(url, named)).toBe('http://t/announce: connection refused');
    const bare = toErrorView(new BtError('TRACKER_FAILURE', 'network', 'the tracker refused: no'));
    expect(trackerErrorMessage(url, bare)).toBe('http://t/announce: the tracker refused: no');
  });
});

describe('renderOutcomes and trackerWarnings (announce and scrape share them, issue 13 item 20)', () => {
  it('a blank line between trackers; one warning per failed tracker, with its code', async () => {
    const { renderOutcomes, trackerWarnings } = await import('../../../../src/cli/render/tracker.js');
    expect(renderOutcomes(['a', 'b'], (o) => [o, `${o}2`])).toEqual(['a', 'a2', '', 'b', 'b2']);
    expect(
      trackerWarnings([
        { url: 'udp://t:1/announce', ok: true },
        { url: 'udp://u:2/announce', ok: false, error: { code: 'TRACKER_TIMEOUT', category: 'network', message: 'no answer' } },
      ]),
    ).toEqual(['udp://u:2/announce: no answer [TRACKER_TIMEOUT]']);
  });
});
