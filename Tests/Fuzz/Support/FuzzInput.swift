/// One libFuzzer input: the first byte steers how the rest is cut, so one corpus entry also covers
/// incremental (split) delivery of the same bytes.
struct FuzzInput {
  /// The first byte of the input (0 for an empty input).
  let control: UInt8
  /// Everything after the first byte.
  let payload: [UInt8]

  /// Copies the input libFuzzer hands to `LLVMFuzzerTestOneInput`.
  init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    control = bytes.first ?? 0
    payload = Array(bytes.dropFirst())
  }

  /// The payload cut at two offsets derived from the control byte: the low nibble places the first cut
  /// within the payload, the high nibble the second cut within what follows. Pieces may be empty.
  var pieces: [ArraySlice<UInt8>] {
    let count = payload.count
    let first = count * Int(control & 0x0F) / 15
    let second = first + (count - first) * Int(control >> 4) / 15
    return [payload[0..<first], payload[first..<second], payload[second..<count]]
  }

  /// The payload as text, with invalid UTF-8 repaired (what a `String(decoding:)` caller sees).
  var text: String { String(decoding: payload, as: UTF8.self) }
}
