export * from './types.js';
export * from './decode.js';
export * from './encode.js';
export * from './json.js';
