// The unit every corpus yields: one document, identified by an id that is stable across runs
// (the train/holdout split is decided from it).
export interface Document {
  id: string;
  text: string;
}
