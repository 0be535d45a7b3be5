// The reasoning format's markers. Each is one token of every tokenizer the project uses; ordinary
// text is split around them before BPE, so merges can never produce them.
export const THINK_OPEN = '<think>';
export const THINK_CLOSE = '</think>';
export const ANSWER = '<answer>';
export const END = '<end>';

export const SPECIAL_TOKENS = [THINK_OPEN, THINK_CLOSE, ANSWER, END] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];
