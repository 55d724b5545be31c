/**
 * The BEP 10 extension protocol: the extended handshake codec and the per-connection plug-in
 * registry that BEP 9 (ut_metadata) and BEP 11 (ut_pex) plug into.
 */
export * from './handshake.js';
export * from './registry.js';
export * from './ut-pex.js';
export * from './ut-metadata.js';
