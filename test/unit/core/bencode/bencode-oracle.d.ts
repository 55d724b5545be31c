/** Types for the `bencode` npm package (v4, no bundled types), used only as a test oracle. */
declare module 'bencode' {
  const bencode: {
    encode(value: unknown): Uint8Array;
    decode(data: Uint8Array): unknown;
  };
  export default bencode;
}
