import RouteSpec

/// A message that breaks the framing rules, with what was wrong.
struct HTTPFramingViolation: Error, Sendable, Equatable {
  /// Malformed framing (a request gets 400), or a well-formed transfer coding louter does not implement (501).
  enum Kind: Sendable, Equatable {
    case malformed
    case unsupportedCoding
  }

  let kind: Kind
  let message: String

  static func malformed(_ message: String) -> HTTPFramingViolation { .init(kind: .malformed, message: message) }
}

/// The RFC 9112 framing rules shared by the request and response parsers: where heads and lines end, what a
/// field line may hold, and how Content-Length, Transfer-Encoding and chunk-size lines read.
///
/// Every line ends in CRLF. A bare LF or a bare CR anywhere in a head, a chunk line or a trailer is an error:
/// RFC 9112 2.2 lets a recipient accept a bare LF, but two parsers that disagree on line ends are how
/// requests get smuggled, so louter accepts only the one spelling.
enum HTTPFraming {
  static let cr: UInt8 = 0x0D
  static let lf: UInt8 = 0x0A
  static let space: UInt8 = 0x20
  static let tab: UInt8 = 0x09

  /// Longest chunk-size line (size and extensions) before the message is refused.
  static let maxChunkLineBytes = 4096
  /// Most decimal digits in a Content-Length: 18 digits always fit an `Int`, so reading never overflows.
  static let maxContentLengthDigits = 18
  /// Most hex digits in a chunk size: 15 digits (60 bits) always fit an `Int`.
  static let maxChunkSizeDigits = 15

  // MARK: heads and lines

  /// How far a scan for the end of a head got.
  enum HeadScan: Equatable {
    /// No end yet; the scan may resume at `resume` once more bytes arrived.
    case incomplete(resume: Int)
    /// The head's lines are `start..<head` (CRLF between them, none after the last); the body starts at `body`.
    case complete(head: Int, body: Int)
    /// A bare CR or LF.
    case invalid(String)
  }

  /// Scans `bytes` from `resume` (at or after `start`, where the head begins) for the empty line ending a head.
  static func scanHead(_ bytes: [UInt8], start: Int, resume: Int) -> HeadScan {
    var index = max(start, resume)
    while index < bytes.count {
      switch bytes[index] {
      case cr:
        guard index + 1 < bytes.count else { return .incomplete(resume: index) }
        guard bytes[index + 1] == lf else { return .invalid("bare CR in the message head") }
        if index - 2 >= start, bytes[index - 2] == cr, bytes[index - 1] == lf {
          return .complete(head: index - 2, body: index + 2)
        }
        index += 2
      case lf:
        // An LF after a CR was stepped over with its CR.
        return .invalid("bare LF in the message head")
      default:
        index += 1
      }
    }
    return .incomplete(resume: index)
  }

  /// How far a scan for the end of one line got.
  enum LineScan: Equatable {
    /// No CRLF yet; the scan may resume at `resume`.
    case incomplete(resume: Int)
    /// The line's content ends at `content`; the next line starts at `next`.
    case complete(content: Int, next: Int)
    /// A bare CR or LF.
    case invalid(String)
  }

  /// Scans `bytes` from `resume` for the CRLF ending a line.
  static func scanLine(_ bytes: [UInt8], resume: Int) -> LineScan {
    var index = resume
    while index < bytes.count {
      switch bytes[index] {
      case cr:
        guard index + 1 < bytes.count else { return .incomplete(resume: index) }
        guard bytes[index + 1] == lf else { return .invalid("bare CR in a line") }
        return .complete(content: index, next: index + 2)
      case lf:
        return .invalid("bare LF in a line")
      default:
        index += 1
      }
    }
    return .incomplete(resume: index)
  }

  /// The lines of a complete head (`scanHead` checked that every line ends in CRLF).
  static func lines(_ head: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
    guard !head.isEmpty else { return [] }
    return head.split(separator: lf, omittingEmptySubsequences: false).map { $0.last == cr ? $0.dropLast() : $0 }
  }

  // MARK: tokens and field lines

  /// `tchar` (RFC 9110 5.6.2): the characters of methods, field names and transfer codings.
  static func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"):
      true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
      UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
      UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
      true
    default: false
    }
  }

  /// `token`: one or more `tchar`.
  static func isToken(_ bytes: some Collection<UInt8>) -> Bool {
    !bytes.isEmpty && bytes.allSatisfy(isTokenByte)
  }

  /// A byte a field value or reason phrase may hold: SP, HTAB, visible ASCII or obs-text; never NUL, CR, LF,
  /// another control character or DEL.
  static func isFieldValueByte(_ byte: UInt8) -> Bool {
    byte == space || byte == tab || (0x21...0x7E).contains(byte) || byte >= 0x80
  }

  /// Reads a field line `name ":" OWS value OWS` (RFC 9112 5).
  ///
  /// The name must be a token (so no whitespace before the colon), a line starting with whitespace
  /// (obsolete line folding) is refused, and the value must hold only `isFieldValueByte` bytes.
  static func fieldLine(_ line: ArraySlice<UInt8>) -> Result<(name: String, value: String), HTTPFramingViolation> {
    if line.first == space || line.first == tab { return .failure(.malformed("obsolete line folding in a header")) }
    guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
      return .failure(.malformed("header line without a colon"))
    }
    let name = line[line.startIndex..<colon]
    guard isToken(name) else { return .failure(.malformed("invalid header name")) }
    let value = line[line.index(after: colon)...].trimmingWhitespace()
    guard value.allSatisfy(isFieldValueByte) else {
      return .failure(.malformed("invalid character in the value of header \(String(decoding: name, as: UTF8.self))"))
    }
    return .success((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
  }

  // MARK: body length

  /// The body length that the Content-Length field values give, or nil without any (RFC 9112 6.3, RFC 9110 8.6).
  ///
  /// Each value is a comma-separated list of `1*DIGIT` of at most `maxContentLengthDigits` digits (no sign,
  /// no spaces inside); several lines or list members are accepted only when they are all the same text.
  static func contentLength(_ values: [String]) -> Result<Int?, HTTPFramingViolation> {
    var length: (text: [UInt8], value: Int)?
    for value in values {
      for member in value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
        let text = Array(member.trimmingWhitespace())
        guard let number = decimal(text) else { return .failure(.malformed("invalid Content-Length")) }
        if let length, length.text != text { return .failure(.malformed("conflicting Content-Length values")) }
        length = (text, number)
      }
    }
    return .success(length?.value)
  }

  /// `1*DIGIT` with at most `maxContentLengthDigits` digits.
  private static func decimal(_ text: some Collection<UInt8>) -> Int? {
    guard !text.isEmpty, text.count <= maxContentLengthDigits else { return nil }
    var value = 0
    for byte in text {
      guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
      value = value * 10 + Int(byte - UInt8(ascii: "0"))
    }
    return value
  }

  /// Checks the Transfer-Encoding list across all its field lines (RFC 9112 6.1, 6.3); true when there is one.
  ///
  /// The only coding louter decodes is `chunked`: it must come last and only once (else malformed), and
  /// any other coding before it is unsupported. Empty list members are skipped; an empty list is malformed.
  static func isChunked(_ values: [String]) -> Result<Bool, HTTPFramingViolation> {
    guard !values.isEmpty else { return .success(false) }
    let codings = values.flatMap { value in
      value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true)
        .map { String(decoding: $0.trimmingWhitespace(), as: UTF8.self).lowercased() }
        .filter { !$0.isEmpty }
    }
    guard !codings.isEmpty else { return .failure(.malformed("empty Transfer-Encoding")) }
    guard codings.last == "chunked", codings.filter({ $0 == "chunked" }).count == 1 else {
      return .failure(.malformed("Transfer-Encoding must end with chunked, once"))
    }
    if let other = codings.first(where: { $0 != "chunked" }) {
      return .failure(
        .init(kind: .unsupportedCoding, message: "transfer coding '\(other.prefix(64))' is not supported"))
    }
    return .success(true)
  }

  // MARK: chunks

  /// The size in a chunk-size line (RFC 9112 7.1, 7.1.1):
  /// `1*HEXDIG *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )`.
  ///
  /// At most `maxChunkSizeDigits` hex digits, no sign, no whitespace before the size or at the end; extensions
  /// are checked against that grammar and ignored. Nil when the line breaks it.
  static func chunkSize(_ line: ArraySlice<UInt8>) -> Int? {
    var index = line.startIndex
    var size = 0
    while index < line.endIndex, let digit = HexDigit.value(of: line[index]) {
      guard index - line.startIndex < maxChunkSizeDigits else { return nil }
      size = size << 4 | Int(digit)
      index += 1
    }
    guard index > line.startIndex else { return nil }
    func skipWhitespace() {
      while index < line.endIndex, line[index] == space || line[index] == tab { index += 1 }
    }
    func skipToken() -> Bool {
      let start = index
      while index < line.endIndex, isTokenByte(line[index]) { index += 1 }
      return index > start
    }
    while index < line.endIndex {
      skipWhitespace()
      guard index < line.endIndex, line[index] == UInt8(ascii: ";") else { return nil }
      index += 1
      skipWhitespace()
      guard skipToken() else { return nil }
      let afterName = index
      skipWhitespace()
      guard index < line.endIndex, line[index] == UInt8(ascii: "=") else {
        // No value: the whitespace belongs to whatever follows, which must be another `;`.
        index = afterName
        continue
      }
      index += 1
      skipWhitespace()
      if index < line.endIndex, line[index] == UInt8(ascii: "\"") {
        guard let end = quotedStringEnd(line, from: index) else { return nil }
        index = end
      } else if !skipToken() {
        return nil
      }
    }
    return size
  }

  /// The index after the quoted-string starting at `start` (RFC 9110 5.6.4), or nil if it is malformed.
  private static func quotedStringEnd(_ line: ArraySlice<UInt8>, from start: Int) -> Int? {
    var index = start + 1
    while index < line.endIndex {
      let byte = line[index]
      if byte == UInt8(ascii: "\"") { return index + 1 }
      if byte == UInt8(ascii: "\\") {
        index += 1
        guard index < line.endIndex, isFieldValueByte(line[index]) else { return nil }
      } else if !isFieldValueByte(byte) {
        return nil
      }
      index += 1
    }
    return nil
  }
}

extension BidirectionalCollection<UInt8> {
  /// The bytes without leading and trailing SP and HTAB (OWS).
  func trimmingWhitespace() -> SubSequence {
    var start = startIndex
    var end = endIndex
    while start < end, self[start] == HTTPFraming.space || self[start] == HTTPFraming.tab { formIndex(after: &start) }
    while end > start, self[index(before: end)] == HTTPFraming.space || self[index(before: end)] == HTTPFraming.tab {
      formIndex(before: &end)
    }
    return self[start..<end]
  }
}

/// Header names compared as HTTP compares them (ASCII case-insensitive, RFC 9110 §5.1), byte by byte:
/// no lowercased copies on the request path.
enum FieldName {
  /// True when `a` and `b` are the same field name in any ASCII case.
  static func equal(_ a: String, _ b: String) -> Bool {
    var a = a
    var b = b
    return a.withUTF8 { left in
      b.withUTF8 { right in
        guard left.count == right.count else { return false }
        for index in 0..<left.count where lower(left[index]) != lower(right[index]) { return false }
        return true
      }
    }
  }

  @inline(__always)
  private static func lower(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
  }
}

/// The options of `Connection` headers (RFC 9110 §7.6.1): comma-separated tokens in any case, over every
/// line of the field. Read byte by byte; `close` wins over `keep-alive`.
struct ConnectionOptions: Equatable {
  private(set) var close = false
  private(set) var keepAlive = false

  init(_ values: some Sequence<String>) {
    for value in values {
      for token in Array(value.utf8).split(separator: UInt8(ascii: ",")) {
        let name = String(decoding: Self.trimmingWhitespace(token), as: UTF8.self)
        if FieldName.equal(name, "close") { close = true }
        if FieldName.equal(name, "keep-alive") { keepAlive = true }
      }
    }
  }

  /// Whether the connection stays open after this message, for an HTTP/1.1 (`persistentByDefault`) or
  /// HTTP/1.0 peer.
  func persists(persistentByDefault: Bool) -> Bool {
    if close { return false }
    return persistentByDefault || keepAlive
  }

  private static func trimmingWhitespace(_ token: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    var start = token.startIndex
    var end = token.endIndex
    while start < end, token[start] == 0x20 || token[start] == 0x09 { start += 1 }
    while end > start, token[end - 1] == 0x20 || token[end - 1] == 0x09 { end -= 1 }
    return token[start..<end]
  }
}
