// Strict UTF-8 validation across chunk boundaries (the WHATWG decoder's rules: no overlong
// forms, no surrogates, nothing above U+10FFFF), reporting where the first bad sequence starts.
export class Utf8Checker {
  private offset = 0; // bytes seen so far
  private needed = 0; // continuation bytes still expected by the open sequence
  private lower = 0x80; // allowed range of the next continuation byte
  private upper = 0xbf;
  private sequenceStart = 0;

  // Returns -1 when everything so far is valid, else the byte offset where the bad sequence starts.
  check(chunk: Uint8Array): number {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.needed === 0) {
        if (byte < 0x80) continue;
        this.sequenceStart = this.offset + i;
        if (byte >= 0xc2 && byte <= 0xdf) this.needed = 1;
        else if (byte >= 0xe0 && byte <= 0xef) {
          this.needed = 2;
          if (byte === 0xe0) this.lower = 0xa0;
          if (byte === 0xed) this.upper = 0x9f;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          this.needed = 3;
          if (byte === 0xf0) this.lower = 0x90;
          if (byte === 0xf4) this.upper = 0x8f;
        } else return this.sequenceStart;
        continue;
      }
      if (byte < this.lower || byte > this.upper) return this.sequenceStart;
      this.lower = 0x80;
      this.upper = 0xbf;
      this.needed--;
    }
    this.offset += chunk.length;
    return -1;
  }

  // Returns -1, or the offset of a sequence cut short by the end of the input.
  finish(): number {
    return this.needed === 0 ? -1 : this.sequenceStart;
  }
}
