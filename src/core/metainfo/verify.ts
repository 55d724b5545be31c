/**
 * Moved: checking data on disk reads the disk, so it lives in storage (src/core/storage/verify.ts).
 * This re-export keeps `btkit demo`'s import working until its owner points it there.
 */
export * from '../storage/verify.js';
