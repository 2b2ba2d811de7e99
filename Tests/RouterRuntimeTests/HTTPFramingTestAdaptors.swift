@testable import RouterRuntime

/// The framing rules called on arrays and strings, as the tests write their cases; each forwards to the one
/// implementation the parsers use on buffers.
extension HTTPFraming {
  static func scanHead(_ bytes: [UInt8], start: Int, resume: Int) -> HeadScan {
    bytes.withUnsafeBufferPointer { scanHead($0, start: start, resume: resume) }
  }

  static func scanLine(_ bytes: [UInt8], resume: Int) -> LineScan {
    bytes.withUnsafeBufferPointer { scanLine($0, resume: resume) }
  }

  /// A field line `name ":" OWS value OWS` that is the whole of `line`, as its name and value.
  static func fieldLine(_ line: ArraySlice<UInt8>) -> Result<(name: String, value: String), HTTPFramingViolation> {
    line.withUnsafeBufferPointer { bytes in
      fieldSpan(line: bytes).map { span in
        (
          String(decoding: UnsafeBufferPointer(rebasing: bytes[span.name]), as: UTF8.self),
          String(decoding: UnsafeBufferPointer(rebasing: bytes[span.value]), as: UTF8.self)
        )
      }
    }
  }

  /// The body length that these Content-Length field values give, or nil without any.
  static func contentLength(_ values: [String]) -> Result<Int?, HTTPFramingViolation> {
    var lengths = ContentLengthValues()
    for var value in values { value.withUTF8 { lengths.add($0) } }
    return lengths.result
  }

  /// Whether these Transfer-Encoding field values say chunked, or how they break the rules.
  static func isChunked(_ values: [String]) -> Result<Bool, HTTPFramingViolation> {
    var codings = TransferCodings()
    for var value in values { value.withUTF8 { codings.add($0) } }
    return codings.result
  }

  static func chunkSize(_ line: ArraySlice<UInt8>) -> Int? {
    line.withUnsafeBufferPointer { chunkSize($0) }
  }
}

extension ConnectionOptions {
  init(_ values: some Sequence<String>) {
    self.init()
    for var value in values { value.withUTF8 { add($0) } }
  }
}
