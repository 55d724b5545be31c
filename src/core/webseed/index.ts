/** Web seeds: HTTP servers as piece sources (BEP 19 `url-list`, BEP 17 `httpseeds`). */
export { encodeSegment, fileUrl, httpSeedUrl, webSeedBase, type WebSeedLayoutNames } from './url.js';
export { pieceRange, planLayout, planRange, type PlanFile, type RangePart } from './ranges.js';
export { RangeClient, parseContentRange, parseRetryAfter, type RangeClientOptions, type RangeResponse, type RangeSink } from './http-range.js';
export { WebSeed, type WebSeedDropReason, type WebSeedEvent, type WebSeedLayout, type WebSeedOptions, type WebSeedState, type WebSeedStats } from './webseed.js';
export { checkWebSeeds, readLocalFiles, type WebSeedCheckOptions, type WebSeedCheckReport, type WebSeedFileProblem } from './check.js';
