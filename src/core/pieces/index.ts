/**
 * What to download next: bitfields (BEP 3 layout), the piece picker (priority, random first,
 * rarest first, sequential) and block scheduling (16 KiB requests, endgame, bad-data attribution,
 * pipeline depth). Pure and deterministic given the picker's RNG.
 */
export * from './bitfield.js';
export * from './picker.js';
export * from './blocks.js';
export * from './geometry.js';
