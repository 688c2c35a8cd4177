/**
 * A bit string written and read field by field (most significant bit first), and its lower-case
 * RFC 4648 base32 form without padding: 5 bits a character. Base32 survives MTAs that change
 * the case of a local part, and needs no quoting in an address.
 */

export const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const BITS_PER_CHAR = 5;
/** Fields are written 24 bits at a time at most, so every step is exact in a double. */
const MAX_FIELD_BITS = 24;

/** Character code → 5-bit value (upper and lower case), -1 for anything else. */
const BASE32_VALUE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < BASE32_ALPHABET.length; i++) {
    table[BASE32_ALPHABET.charCodeAt(i)] = i;
    table[BASE32_ALPHABET.toUpperCase().charCodeAt(i)] = i;
  }
  return table;
})();

export class BitWriter {
  private readonly bytes: Uint8Array;
  private length = 0;

  constructor(maxBits: number) {
    this.bytes = new Uint8Array(Math.ceil(maxBits / 8));
  }

  get bitLength(): number {
    return this.length;
  }

  /** Appends the low `bits` bits of `value` (a non-negative integer below 2^53). */
  write(value: number, bits: number): void {
    let rest = bits;
    while (rest > 0) {
      const take = Math.min(rest, MAX_FIELD_BITS);
      rest -= take;
      const chunk = Math.floor(value / 2 ** rest) % 2 ** take;
      for (let i = take - 1; i >= 0; i--) this.pushBit((chunk >>> i) & 1);
    }
  }

  writeBytes(bytes: Uint8Array, count = bytes.length): void {
    for (let i = 0; i < count; i++) this.write(bytes[i]!, 8);
  }

  /** The bits written so far, zero-padded to whole bytes. */
  toBytes(): Buffer {
    return Buffer.from(this.bytes.subarray(0, Math.ceil(this.length / 8)));
  }

  toBase32(): string {
    let out = '';
    const chars = Math.ceil(this.length / BITS_PER_CHAR);
    for (let c = 0; c < chars; c++) {
      let value = 0;
      for (let b = 0; b < BITS_PER_CHAR; b++) value = (value << 1) | this.bitAt(c * BITS_PER_CHAR + b);
      out += BASE32_ALPHABET[value];
    }
    return out;
  }

  private pushBit(bit: number): void {
    if (bit) this.bytes[this.length >>> 3]! |= 0x80 >>> (this.length & 7);
    this.length++;
  }

  private bitAt(index: number): number {
    if (index >= this.length) return 0;
    return (this.bytes[index >>> 3]! >>> (7 - (index & 7))) & 1;
  }
}

export class BitReader {
  private position = 0;

  private constructor(
    private readonly bytes: Uint8Array,
    readonly bitLength: number,
  ) {}

  /** Reads a base32 string (either case); undefined when a character is not base32. */
  static fromBase32(text: string): BitReader | undefined {
    const bitLength = text.length * BITS_PER_CHAR;
    const bytes = new Uint8Array(Math.ceil(bitLength / 8));
    let bit = 0;
    for (let c = 0; c < text.length; c++) {
      const code = text.charCodeAt(c);
      const value = code < 128 ? BASE32_VALUE[code]! : -1;
      if (value < 0) return undefined;
      for (let b = BITS_PER_CHAR - 1; b >= 0; b--, bit++)
        if ((value >>> b) & 1) bytes[bit >>> 3]! |= 0x80 >>> (bit & 7);
    }
    return new BitReader(bytes, bitLength);
  }

  get remaining(): number {
    return this.bitLength - this.position;
  }

  read(bits: number): number {
    let value = 0;
    for (let i = 0; i < bits; i++) {
      const index = this.position++;
      value = value * 2 + ((this.bytes[index >>> 3]! >>> (7 - (index & 7))) & 1);
    }
    return value;
  }

  readBytes(count: number): Buffer {
    const out = Buffer.alloc(count);
    for (let i = 0; i < count; i++) out[i] = this.read(8);
    return out;
  }
}
