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
  static func scanHead(_ bytes: UnsafeBufferPointer<UInt8>, start: Int, resume: Int) -> HeadScan {
    var index = max(start, resume)
    let raw = UnsafeRawBufferPointer(bytes)
    while index < bytes.count {
      // Most bytes are neither CR nor LF: eight at a time up to the next byte at or below CR.
      index = ByteWord.skipUnmarked(raw, from: index, to: bytes.count) { ByteWord.below($0, cr + 1) }
      guard index < bytes.count else { break }
      let byte = bytes[index]
      if byte > cr {
        index += 1
        continue
      }
      switch byte {
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
  static func scanLine(_ bytes: UnsafeBufferPointer<UInt8>, resume: Int) -> LineScan {
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

  /// Where the line at `start` of a complete head ends: at its CR (`scanHead` checked that every CR
  /// starts a CRLF), or at `end`, the end of the head's last line.
  static func lineEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
    var index = start
    while index < end, bytes[index] != cr { index += 1 }
    return index
  }

  // MARK: tokens and field lines

  /// Appends the field line `name: value` and its CRLF with one reservation and one copy of each part: every
  /// response head's and upstream request head's header lines (four appends each before). The caller has
  /// checked both against the field grammar.
  static func appendFieldLine(name: String, value: String, to bytes: inout [UInt8]) {
    let written: Bool? = name.utf8.withContiguousStorageIfAvailable { name -> Bool in
      value.utf8.withContiguousStorageIfAvailable { value -> Void in
        bytes.append(count: name.count + value.count + 4) { start in
          var cursor = start
          if let source = name.baseAddress { cursor.update(from: source, count: name.count) }
          cursor += name.count
          cursor[0] = colon
          cursor[1] = space
          cursor += 2
          if let source = value.baseAddress { cursor.update(from: source, count: value.count) }
          cursor += value.count
          cursor[0] = cr
          cursor[1] = lf
        }
      } != nil
    }
    // Strings without contiguous UTF-8 (none that louter makes): piece by piece.
    guard written != true else { return }
    bytes.append(utf8: name)
    bytes.append(literal: ": ")
    bytes.append(utf8: value)
    bytes.append(literal: "\r\n")
  }

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

  /// ``isTokenByte(_:)`` and ``isFieldValueByte(_:)`` as tables, for the wire check of every upstream request's
  /// method and headers (`WireGrammar`).
  static let tokenBytes = ByteClass(isTokenByte)
  static let fieldValueBytes = ByteClass(isFieldValueByte)

  /// `token`: one or more `tchar`.
  static func isToken(_ bytes: some Collection<UInt8>) -> Bool {
    !bytes.isEmpty && bytes.allSatisfy(isTokenByte)
  }

  /// A byte a field value or reason phrase may hold: SP, HTAB, visible ASCII or obs-text; never NUL, CR, LF,
  /// another control character or DEL.
  static func isFieldValueByte(_ byte: UInt8) -> Bool {
    byte == space || byte == tab || (0x21...0x7E).contains(byte) || byte >= 0x80
  }

  /// Where a field line's name and value (without the OWS around it) are, and where the line ends.
  struct FieldSpan {
    let name: Range<Int>
    let value: Range<Int>
    /// The index after the value's last byte or OWS: the line's end, or a CR.
    let end: Int
  }

  /// Reads a field line `name ":" OWS value OWS` (RFC 9112 5) at `start`, in one pass over its bytes.
  ///
  /// The name must be a token (so no whitespace before the colon), a line starting with whitespace
  /// (obsolete line folding) is refused, and the value must hold only `isFieldValueByte` bytes. The value
  /// ends at `end` or at a CR (in a complete head, the CRLF ending the line); the caller checks which.
  // Inlined: in `readFields` the `Result` then costs nothing, and the call's setup was a tenth of a field's cost.
  @inline(__always)
  static func fieldSpan(
    _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int
  ) -> Result<FieldSpan, HTTPFramingViolation> {
    var index = start
    if index < end, bytes[index] == space || bytes[index] == tab {
      return .failure(.malformed("obsolete line folding in a header"))
    }
    let raw = UnsafeRawBufferPointer(bytes)
    while true {
      // Eight bytes at a time up to the first that is not a letter, a digit or `-` (a name's bytes are almost
      // always those); that byte, and the last few of the head, one at a time.
      index = ByteWord.skipUnmarked(raw, from: index, to: end, FieldName.markOtherThanLetterDigitDash)
      guard index < end, isTokenByte(bytes[index]) else { break }
      index += 1
    }
    guard index > start, index < end, bytes[index] == colon else {
      // Not `token ":"`: a line without a colon, or a name that is not a token.
      let lineEnd = lineEnd(bytes, from: index, to: end)
      let hasColon = UnsafeBufferPointer(rebasing: bytes[index..<lineEnd]).contains(colon)
      return .failure(.malformed(hasColon ? "invalid header name" : "header line without a colon"))
    }
    let name = start..<index
    index += 1
    while index < end, bytes[index] == space || bytes[index] == tab { index += 1 }
    let valueStart = index
    while index < end {
      // Eight bytes at a time up to the first control byte or DEL (a value's bytes are almost all printable);
      // that byte, and the last few of the head, one at a time.
      index = ByteWord.skipUnmarked(raw, from: index, to: end) { ByteWord.below($0, 0x20) | ByteWord.equal($0, 0x7F) }
      guard index < end else { break }
      // `isFieldValueByte`, most likely first: SP to `~`, then obs-text, then HTAB; a CR or another control
      // byte ends the value.
      let byte = bytes[index]
      guard byte &- space < 0x5F || byte >= 0x80 || byte == tab else { break }
      index += 1
    }
    if index < end, bytes[index] != cr { return .failure(invalidValue(bytes, name: name)) }
    // The value ends before the whitespace that ends the line (the leading whitespace is already skipped).
    var valueEnd = index
    while valueEnd > valueStart, bytes[valueEnd - 1] == space || bytes[valueEnd - 1] == tab { valueEnd -= 1 }
    return .success(FieldSpan(name: name, value: valueStart..<valueEnd, end: index))
  }

  /// The failure for a field value with a byte `isFieldValueByte` refuses.
  static func invalidValue(_ bytes: UnsafeBufferPointer<UInt8>, name: Range<Int>) -> HTTPFramingViolation {
    .malformed(
      "invalid character in the value of header \(String(decoding: UnsafeBufferPointer(rebasing: bytes[name]), as: UTF8.self))"
    )
  }

  /// Reads one field line that is the whole of `line` (a trailer line, whose CRLF `scanLine` found).
  static func fieldSpan(line bytes: UnsafeBufferPointer<UInt8>) -> Result<FieldSpan, HTTPFramingViolation> {
    switch fieldSpan(bytes, from: 0, to: bytes.count) {
    case .failure(let violation): .failure(violation)
    case .success(let span) where span.end != bytes.count: .failure(invalidValue(bytes, name: span.name))
    case .success(let span): .success(span)
    }
  }

  static let colon = UInt8(ascii: ":")

  /// What the field lines of a head say, read in one pass: the fields, and those that frame the message as
  /// they went by.
  struct HeadFields {
    /// Every field, in order.
    var headers: HeaderFieldBytes
    var contentLength = ContentLengthValues()
    var transferEncoding = TransferCodings()
    var connection = ConnectionOptions()
    /// The first Expect field is `100-continue` (any case).
    var expectContinue = false
    private var sawExpect = false

    /// No fields, nor any of them noted, yet.
    init() { headers = HeaderFieldBytes() }

    /// Takes note of the field `name` with `value` if it is one of those above.
    mutating func note(_ bytes: UnsafeBufferPointer<UInt8>, name: Range<Int>, value: Range<Int>) {
      let value = UnsafeBufferPointer(rebasing: bytes[value])
      switch name.count {
      case 14 where FieldName.equal(bytes, name, "content-length"): contentLength.add(value)
      case 17 where FieldName.equal(bytes, name, "transfer-encoding"): transferEncoding.add(value)
      case 10 where FieldName.equal(bytes, name, "connection"): connection.add(value)
      case 6 where !sawExpect && FieldName.equal(bytes, name, "expect"):
        sawExpect = true
        expectContinue = FieldName.equal(value, 0..<value.count, "100-continue")
      default: break
      }
    }
  }

  /// Why the field lines of a head were refused.
  enum FieldsFailure: Error {
    /// More than the most fields allowed (whatever else is wrong with them).
    case tooMany
    case violation(HTTPFramingViolation)
  }

  /// Reads the field lines of a complete head, `start..<end` (CRLF between lines, none after the last), into
  /// `fields` (new ones): every field into its `headers` (which copy the lines once, with room for `reserving`
  /// fields), the framing fields noted. Nil when they are all well formed.
  ///
  /// More than `maxFields` lines fail as `tooMany` even when a line before the limit is malformed.
  // Filling the caller's notes rather than returning them in a `Result` spares a copy of them and of the
  // headers' references, and its drop, per head.
  static func readFields(
    _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, maxFields: Int, reserving: Int,
    into fields: inout HeadFields
  ) -> FieldsFailure? {
    // From here on the lines are indexed from 0, as their copy in `headers` is.
    let bytes = UnsafeBufferPointer(rebasing: bytes[start..<end])
    let end = bytes.count
    fields.headers = HeaderFieldBytes(copying: bytes, fields: reserving)
    var index = 0
    var count = 0
    while index < end {
      count += 1
      if count > maxFields { return .tooMany }
      switch fieldSpan(bytes, from: index, to: end) {
      case .failure(let violation):
        // The count decides first: count the lines left, each after a CR.
        var rest = lineEnd(bytes, from: index, to: end)
        while rest < end {
          if bytes[rest] == cr { count += 1 }
          rest += 1
        }
        return count > maxFields ? .tooMany : .violation(violation)
      case .success(let span):
        fields.note(bytes, name: span.name, value: span.value)
        fields.headers.appendField(name: span.name, value: span.value)
        index = span.end + 2
      }
    }
    return nil
  }

  // MARK: body length

  /// Calls `body` with each member of the comma-separated list `bytes`, without its OWS; empty members too.
  static func forEachListMember(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
    var start = 0
    while start <= bytes.count {
      var end = start
      while end < bytes.count, bytes[end] != UInt8(ascii: ",") { end += 1 }
      var first = start
      var last = end
      while first < last, bytes[first] == space || bytes[first] == tab { first += 1 }
      while last > first, bytes[last - 1] == space || bytes[last - 1] == tab { last -= 1 }
      body(UnsafeBufferPointer(rebasing: bytes[first..<last]))
      start = end + 1
    }
  }

  // MARK: chunks

  /// The size in a chunk-size line (RFC 9112 7.1, 7.1.1):
  /// `1*HEXDIG *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )`.
  ///
  /// At most `maxChunkSizeDigits` hex digits, no sign, no whitespace before the size or at the end; extensions
  /// are checked against that grammar and ignored. Nil when the line breaks it.
  static func chunkSize(_ line: UnsafeBufferPointer<UInt8>) -> Int? {
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
  private static func quotedStringEnd(_ line: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
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

/// Header names compared as HTTP compares them (ASCII case-insensitive, RFC 9110 §5.1), byte by byte:
/// no lowercased copies on the request path.
enum FieldName {
  /// True when `a` and `b` are the same field name in any ASCII case.
  static func equal(_ a: String, _ b: String) -> Bool {
    // On the views, without copying either string: header lookups call this for every field of a head.
    let left = a.utf8
    let right = b.utf8
    guard left.count == right.count else { return false }
    return left.elementsEqual(right) { lower($0) == lower($1) }
  }

  /// True when the bytes at `range` are `lowercase` (ASCII, lowercase) in any ASCII case.
  // Inlined, on pointers: each head's framing fields are looked for with this, and the call with its
  // `StaticString` and `Range` checks cost about 190 instructions where the loop costs 50.
  @inline(__always)
  static func equal(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
    guard range.count == lowercase.utf8CodeUnitCount else { return false }
    let other = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
    return equalLowered(UnsafeBufferPointer(rebasing: bytes[range]), other, foldingBoth: false)
  }

  /// True when `a` and `b`, of one length, are the same name in any ASCII case.
  // Not inlined: inlined into a lookup's loop, folding `b` was hoisted before it, paid for names never compared.
  @inline(never)
  static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    equalLowered(a, b, foldingBoth: true)
  }

  /// True when `a` with A-Z folded to a-z is `b` (also folded when `foldingBoth`); both of one length. Eight
  /// bytes at a time, the last eight overlapping those before; a byte at a time when there are fewer.
  @inline(__always)
  private static func equalLowered(
    _ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, foldingBoth: Bool
  ) -> Bool {
    let count = a.count
    guard count >= 8 else {
      for offset in 0..<count where lower(a[offset]) != (foldingBoth ? lower(b[offset]) : b[offset]) { return false }
      return true
    }
    let left = UnsafeRawBufferPointer(a)
    let right = UnsafeRawBufferPointer(b)
    func same(at offset: Int) -> Bool {
      let other = ByteWord.load(right, at: offset)
      return lower(word: ByteWord.load(left, at: offset)) == (foldingBoth ? lower(word: other) : other)
    }
    var offset = 0
    while count - offset > 8 {
      guard same(at: offset) else { return false }
      offset += 8
    }
    return same(at: count - 8)
  }

  /// The byte with A-Z folded to a-z.
  @inline(__always)
  static func lower(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
  }

  /// Each byte of `word` folded as ``lower(_:)`` folds it.
  @inline(__always)
  static func lower(word: UInt64) -> UInt64 {
    // A byte is A-Z when its low seven bits are 0x41 or more and not 0x5B or more, and its high bit is clear.
    let low = word & ~ByteWord.highBits
    let upper = (low &+ ones &* 0x3F) & ~(low &+ ones &* 0x25) & ~word & ByteWord.highBits
    return word | upper >> 2
  }

  /// Marks (in its high bit) each byte of `word` that is not an ASCII letter, digit or `-`.
  @inline(__always)
  static func markOtherThanLetterDigitDash(_ word: UInt64) -> UInt64 {
    // On the low seven bits no sum carries out of its byte, so each byte is tested alone: `x` is in `lo...hi`
    // when `x + 0x80 - lo` has its high bit set and `x + 0x7F - hi` has not.
    let low = word & ~ByteWord.highBits
    let folded = low | ones &* 0x20
    let letter = (folded &+ ones &* (0x80 - 0x61)) & ~(folded &+ ones &* (0x7F - 0x7A))
    let digit = (low &+ ones &* (0x80 - 0x30)) & ~(low &+ ones &* (0x7F - 0x39))
    let dash = (low &+ ones &* (0x80 - 0x2D)) & ~(low &+ ones &* (0x7F - 0x2D))
    return (~(letter | digit | dash) | word) & ByteWord.highBits
  }

  private static var ones: UInt64 { 0x0101_0101_0101_0101 }
}

/// The options of `Connection` headers (RFC 9110 §7.6.1): comma-separated tokens in any case, over every
/// line of the field. Read byte by byte; `close` wins over `keep-alive`.
struct ConnectionOptions: Equatable {
  private(set) var close = false
  private(set) var keepAlive = false

  /// No Connection field yet.
  init() {}

  /// Takes the options of one more Connection field value.
  mutating func add(_ value: UnsafeBufferPointer<UInt8>) {
    // Almost every value is the one option `keep-alive` or `close`, which is then the list's only member: no
    // list to split.
    if FieldName.equal(value, 0..<value.count, "keep-alive") {
      keepAlive = true
    } else if FieldName.equal(value, 0..<value.count, "close") {
      close = true
    } else {
      addMembers(value)
    }
  }

  /// ``add(_:)`` without its shortcut for a lone `keep-alive` or `close`, which the tests compare it with.
  mutating func addMembers(_ value: UnsafeBufferPointer<UInt8>) {
    HTTPFraming.forEachListMember(value) { token in
      if FieldName.equal(token, 0..<token.count, "close") { close = true }
      if FieldName.equal(token, 0..<token.count, "keep-alive") { keepAlive = true }
    }
  }

  /// Whether the connection stays open after this message, for an HTTP/1.1 (`persistentByDefault`) or
  /// HTTP/1.0 peer.
  func persists(persistentByDefault: Bool) -> Bool {
    if close { return false }
    return persistentByDefault || keepAlive
  }
}

/// The Content-Length field values of a message, taken one by one (RFC 9112 6.3, RFC 9110 8.6).
///
/// Each value is a comma-separated list of `1*DIGIT` of at most `maxContentLengthDigits` digits (no sign,
/// no spaces inside); several lines or list members are accepted only when they are all the same text.
struct ContentLengthValues {
  /// Why the values are refused.
  private enum Fault {
    case invalid
    case conflicting
  }

  // No `Result` with its message kept here: a head's framing notes are then plain values, copied and
  // dropped without reference counting.
  private var fault: Fault?
  /// The digits of the first member: two digit strings of one length are the same text exactly when they
  /// have the same value.
  private var first: (digits: Int, value: Int)?

  /// The body length the values give so far, nil without any, or the first violation.
  var result: Result<Int?, HTTPFramingViolation> {
    switch fault {
    case .invalid: .failure(.malformed("invalid Content-Length"))
    case .conflicting: .failure(.malformed("conflicting Content-Length values"))
    case nil: .success(first?.value)
    }
  }

  /// Takes one more Content-Length field value.
  mutating func add(_ value: UnsafeBufferPointer<UInt8>) {
    // Almost every value is one number: digits only, so without a comma or OWS, the list's only member.
    if let number = Self.decimal(value) {
      take(number, digits: value.count)
    } else {
      addMembers(value)
    }
  }

  /// ``add(_:)`` without its shortcut for a value of digits only, which the tests compare it with.
  mutating func addMembers(_ value: UnsafeBufferPointer<UInt8>) {
    HTTPFraming.forEachListMember(value) { member in
      guard let number = Self.decimal(member) else {
        if fault == nil { fault = .invalid }
        return
      }
      take(number, digits: member.count)
    }
  }

  /// Takes the list member `number`, written with `digits` digits, unless a member was refused before.
  private mutating func take(_ number: Int, digits: Int) {
    guard fault == nil else { return }
    if let first, first.digits != digits || first.value != number {
      fault = .conflicting
      return
    }
    first = (digits, number)
  }

  /// `1*DIGIT` with at most `maxContentLengthDigits` digits.
  private static func decimal(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
    guard !text.isEmpty, text.count <= HTTPFraming.maxContentLengthDigits else { return nil }
    var value = 0
    for byte in text {
      guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
      value = value * 10 + Int(byte - UInt8(ascii: "0"))
    }
    return value
  }
}

/// The Transfer-Encoding list of a message across all its field lines, taken one by one (RFC 9112 6.1, 6.3).
///
/// The only coding louter decodes is `chunked`: it must come last and only once (else malformed), and
/// any other coding before it is unsupported. Empty list members are skipped; an empty list is malformed.
struct TransferCodings {
  /// A Transfer-Encoding field was seen.
  private(set) var isPresent = false
  private var codings = 0
  private var chunked = 0
  private var lastIsChunked = false
  /// The first coding other than `chunked`, lowercased.
  private var firstOther: String?

  /// Takes one more Transfer-Encoding field value.
  mutating func add(_ value: UnsafeBufferPointer<UInt8>) {
    // Almost every value is the one coding `chunked`, the list's only member: no list to split.
    if Self.isChunked(value) {
      isPresent = true
      codings += 1
      chunked += 1
      lastIsChunked = true
    } else {
      addMembers(value)
    }
  }

  /// ``add(_:)`` without its shortcut for a lone `chunked`, which the tests compare it with.
  mutating func addMembers(_ value: UnsafeBufferPointer<UInt8>) {
    isPresent = true
    HTTPFraming.forEachListMember(value) { coding in
      guard !coding.isEmpty else { return }
      codings += 1
      lastIsChunked = Self.isChunked(coding)
      if lastIsChunked {
        chunked += 1
      } else if firstOther == nil {
        firstOther = String(decoding: coding, as: UTF8.self).lowercased()
      }
    }
  }

  /// Whether the codings are `chunked` (false without a field), or how they break the rules.
  var result: Result<Bool, HTTPFramingViolation> {
    guard isPresent else { return .success(false) }
    guard codings > 0 else { return .failure(.malformed("empty Transfer-Encoding")) }
    guard lastIsChunked, chunked == 1 else {
      return .failure(.malformed("Transfer-Encoding must end with chunked, once"))
    }
    if let other = firstOther {
      return .failure(
        .init(kind: .unsupportedCoding, message: "transfer coding '\(other.prefix(64))' is not supported"))
    }
    return .success(true)
  }

  /// A coding is `chunked` in any ASCII case. Only ASCII folds: a coding name is a token, and a KELVIN SIGN,
  /// which Unicode lowercases to `k`, must not make `chunKed` (with it) read as chunked where another parser
  /// sees an unknown coding.
  private static func isChunked(_ coding: UnsafeBufferPointer<UInt8>) -> Bool {
    FieldName.equal(coding, 0..<coding.count, "chunked")
  }
}
