// What determines each token of a generated corpus, written beside the tokens (one byte each in
// the data stage's `<side>.labels.u8`):
// - determined: a function of the context (an answer digit, a carried value, a looked-up binding);
// - free: drawn at random (an operand, a name), which no thinking can predict;
// - structure: the format's own tokens.
// The high bit marks the first token of an answer, where a worked thought helps most.

export const LABELS = ['structure', 'free', 'determined'] as const;
export type Label = (typeof LABELS)[number];

/** The byte of a token: its label's index, with ANSWER_START set on an answer's first token. */
export const ANSWER_START = 0x80;

export function labelCode(label: Label, answerStart = false): number {
  return LABELS.indexOf(label) | (answerStart ? ANSWER_START : 0);
}

export function labelOf(code: number): Label {
  const label = LABELS[code & ~ANSWER_START];
  if (label === undefined) throw new RangeError(`label byte ${code} names no label`);
  return label;
}

export function isAnswerStart(code: number): boolean {
  return (code & ANSWER_START) !== 0;
}

/**
 * The label buckets a position falls in: its label, and `answer_first` for an answer's first
 * (determined) token. Evaluation crosses them with the entropy buckets.
 */
export const LABEL_BUCKETS = [...LABELS, 'answer_first'] as const;
export type LabelBucket = (typeof LABEL_BUCKETS)[number];

export function labelBuckets(code: number): LabelBucket[] {
  const label = labelOf(code);
  return label === 'determined' && isAnswerStart(code) ? [label, 'answer_first'] : [label];
}
