export * from './types.js';
export * from './paths.js';
export * from './parse.js';
export * from './magnet.js';
export * from './build.js';
export * from './piece-length.js';
