// GPT-2's byte-level alphabet and pre-tokenizer, as the Hugging Face `ByteLevel` pre-tokenizer
// defines them: tokenizer.json files store each byte as a printable character, and text is cut
// into pre-tokens (words with their leading space, numbers, punctuation runs, whitespace) that
// BPE merges never cross.

// Printable Latin-1 bytes stand for themselves; the other 68 bytes map to U+0100 and up, in order.
const BYTE_TO_CHAR: readonly string[] = (() => {
  const chars: string[] = new Array(256);
  let next = 256;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
    chars[byte] = String.fromCharCode(printable ? byte : next++);
  }
  return chars;
})();

const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((char, byte) => [char, byte]));

export function bytesToByteLevel(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += BYTE_TO_CHAR[byte];
  return text;
}

export function byteLevelToBytes(token: string, context: string): Uint8Array {
  const bytes = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const byte = CHAR_TO_BYTE.get(token[i]);
    if (byte === undefined) throw new Error(`${context}: token ${JSON.stringify(token)} is not byte-level (character ${JSON.stringify(token[i])})`);
    bytes[i] = byte;
  }
  return bytes;
}

// The GPT-2 pattern, written as both `tokenizers` (Rust) and `@huggingface/tokenizers` (JS) apply it.
const PRETOKEN_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export function pretokenize(text: string): string[] {
  return text.match(PRETOKEN_PATTERN) ?? [];
}

// Splits text into ordinary sections and whole special tokens, earliest and then longest match
// first, as the Hugging Face tokenizers do before pre-tokenizing.
export function specialTokenPattern(specialTokens: Iterable<string>): RegExp {
  const sorted = [...specialTokens].sort((a, b) => b.length - a.length);
  const alternatives = sorted.map((token) => token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`(${alternatives.join('|')})`, 'u');
}
