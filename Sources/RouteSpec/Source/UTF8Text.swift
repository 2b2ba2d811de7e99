/// Strict UTF-8 decoding, for every reader that must refuse (not repair) bytes that are not UTF-8.
public enum UTF8Text {
  /// The text of `bytes` when they are valid UTF-8; nil otherwise.
  public static func validated(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
    // Not `String(validating:as:)`: it is generic over the encoding and not specialised in our modules, so
    // every call looked up type metadata at run time — a fifth of the CPU of parsing a translated request.
    // Decoding replaces what is not UTF-8 with U+FFFD, so the bytes were valid exactly when decoding left
    // them as they were.
    var text = String(decoding: bytes, as: UTF8.self)
    let unchanged = text.withUTF8 { decoded in sameBytes(decoded, bytes) }
    return unchanged ? text : nil
  }

  /// Whether `a` and `b` hold the same bytes, compared eight at a time.
  private static func sameBytes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    let left = UnsafeRawBufferPointer(a)
    let right = UnsafeRawBufferPointer(b)
    var offset = 0
    while offset + 8 <= left.count {
      let word = left.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
      guard word == right.loadUnaligned(fromByteOffset: offset, as: UInt64.self) else { return false }
      offset += 8
    }
    while offset < left.count {
      guard left[offset] == right[offset] else { return false }
      offset += 1
    }
    return true
  }

  /// The text of `bytes` when they are valid UTF-8; nil otherwise.
  public static func validated(_ bytes: some Collection<UInt8>) -> String? {
    if let text = bytes.withContiguousStorageIfAvailable({ validated($0) }) { return text }
    return Array(bytes).withUnsafeBufferPointer { validated($0) }
  }
}
