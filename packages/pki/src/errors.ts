/** Every refusal of this package: bad input, a CSR that does not match, a broken PEM, a token that is not ours. */
export class PkiError extends Error {
  override readonly name = "PkiError";
}
