// A reward module used only to check that module paths resolve.
export default function reward(): number {
  return 0;
}
