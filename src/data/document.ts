// The unit every corpus yields: one document, identified by an id that is stable across runs
// (the train/holdout split is decided from it).
export interface Document {
  id: string;
  text: string;
  // Worked thoughts that lead up to spans of the text, kept beside it rather than inline, so that
  // the text reads as the corpus does and its true next token after a question is the answer.
  // Pre-training's format warm-up shows them as the thought before predicting the span.
  thoughts?: DocumentThought[];
}

export interface DocumentThought {
  start: number; // the span [start, end) of `text` (UTF-16 offsets) this thought leads up to
  end: number;
  text: string;
}
