import RouteSpec

/// Why a piece of an upstream request cannot go on the wire: it falls outside its grammar.
///
/// The message never repeats the offending text: it may be a secret (a key) or hold control
/// characters meant for a log line.
public struct UpstreamTargetError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Which piece of the request.
  public enum Part: String, Sendable, Equatable {
    case baseURL = "backend URL"
    case pathSegment = "path segment"
    case query = "query string"
    case method = "method"
    case headerName = "header name"
    case headerValue = "header value"
    case requestTarget = "request target"
  }

  /// Which piece was refused.
  public let part: Part
  /// What is wrong with it, in words.
  public let reason: String

  /// Creates an error.
  public init(_ part: Part, _ reason: String) {
    self.part = part
    self.reason = reason
  }

  public var description: String { "\(part.rawValue) \(reason)" }
}

/// RFC 3986 and RFC 9110 character classes, the one place upstream text is judged byte by byte.
enum WireGrammar {
  /// `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
  static func isUnreserved(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
      UInt8(ascii: "~"):
      true
    default: false
    }
  }

  /// `"!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="`.
  static func isSubDelimiter(_ byte: UInt8) -> Bool {
    // A switch, not a set literal: these run once per byte of every upstream URL and header name, and an
    // `Array(...).contains` here allocated on each call.
    switch byte {
    case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
      UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
      UInt8(ascii: "="):
      true
    default: false
    }
  }

  /// A byte of an origin-form request target (`/path?query`): pchar, `/`, `?`, and `%` of an escape.
  static func isTargetByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "%"): true
    default: isUnreserved(byte) || isSubDelimiter(byte)
    }
  }

  /// A byte of an absolute URL: the request-target bytes plus `[` `]` of an IPv6 host.
  static func isURLByte(_ byte: UInt8) -> Bool {
    isTargetByte(byte) || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "]")
  }

  /// The classes above as tables, for the scans that run on every upstream request; methods, header names and
  /// values follow the HTTP grammar that the parsers of both directions use (`HTTPFraming`).
  static let tokenBytes = HTTPFraming.tokenBytes
  static let targetBytes = ByteClass(isTargetByte)
  static let urlBytes = ByteClass(isURLByte)
  static let fieldValueBytes = HTTPFraming.fieldValueBytes

  /// True when every byte of `text` is in `set` and, with `escapes`, every `%` is followed by two hex digits.
  ///
  /// One pass over the string's own storage: `allSatisfy` on a `UTF8View` cost about forty instructions a
  /// byte, and checking each request's URL and headers that way was 3 % of its CPU.
  static func holdsOnly(_ set: ByteClass, _ text: String, checkingEscapes escapes: Bool = false) -> Bool {
    if let answer = text.utf8.withContiguousStorageIfAvailable({ holdsOnly(set, $0, checkingEscapes: escapes) }) {
      return answer
    }
    return Array(text.utf8).withUnsafeBufferPointer { holdsOnly(set, $0, checkingEscapes: escapes) }
  }

  private static func holdsOnly(_ set: ByteClass, _ bytes: UnsafeBufferPointer<UInt8>, checkingEscapes escapes: Bool)
    -> Bool
  {
    var index = 0
    while index < bytes.count {
      let byte = bytes[index]
      guard set.contains(byte) else { return false }
      index += 1
      if escapes, byte == UInt8(ascii: "%") {
        // Hex digits are unreserved, so in every class an escape may appear in.
        guard index + 1 < bytes.count, HexDigit.value(of: bytes[index]) != nil,
          HexDigit.value(of: bytes[index + 1]) != nil
        else { return false }
        index += 2
      }
    }
    return true
  }

  /// `text` with every byte outside `keep` written as `%HH`.
  static func percentEncoded(_ text: String, keeping keep: (UInt8) -> Bool) -> String {
    let digits = Array("0123456789ABCDEF".utf8)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
      if keep(byte) {
        bytes.append(byte)
      } else {
        bytes += [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Whether `text` starts with `prefix` (lowercase ASCII), ignoring ASCII case.
  static func hasASCIIPrefix(_ text: String, caseInsensitive prefix: String) -> Bool {
    let bytes = text.utf8
    guard bytes.count >= prefix.utf8.count else { return false }
    return zip(bytes, prefix.utf8).allSatisfy { byte, expected in
      byte == expected || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") && byte + 32 == expected)
    }
  }

  /// A valid origin-form request target: `/`, then only target bytes, and well-formed escapes.
  static func isRequestTarget(_ text: String) -> Bool {
    text.utf8.first == UInt8(ascii: "/") && holdsOnly(targetBytes, text, checkingEscapes: true)
  }
}

/// One path segment of an upstream URL, percent-encoded: only unreserved characters, `:` and `@`
/// stay as they are, so a `/`, `?`, `#`, `%`, space or control character in it can neither end the
/// segment nor reach the request line raw.
public struct PathSegment: Sendable, Equatable {
  /// The segment as it goes on the wire.
  public let encoded: String

  /// Encodes `text`; an empty segment and the dot segments `.` and `..` are refused, since servers
  /// normalise them away (even encoded) and the path would then point elsewhere.
  public init(_ text: String) throws(UpstreamTargetError) {
    guard !text.isEmpty else { throw UpstreamTargetError(.pathSegment, "is empty") }
    guard text != ".", text != ".." else { throw UpstreamTargetError(.pathSegment, "is a dot segment") }
    encoded = WireGrammar.percentEncoded(text) {
      WireGrammar.isUnreserved($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "@")
    }
  }
}

/// One `name=value` pair of an upstream query, kept decoded and encoded only when written.
public struct QueryItem: Sendable, Equatable {
  /// The decoded name.
  public let name: String
  /// The decoded value; nil for a bare `name`.
  public let value: String?

  /// Creates a pair.
  public init(_ name: String, _ value: String?) {
    self.name = name
    self.value = value
  }

  /// `name=value` with everything but unreserved characters percent-encoded (so `&`, `=`, `#` and
  /// spaces stay inside their pair).
  public var encoded: String {
    let name = WireGrammar.percentEncoded(name, keeping: WireGrammar.isUnreserved)
    guard let value else { return name }
    return name + "=" + WireGrammar.percentEncoded(value, keeping: WireGrammar.isUnreserved)
  }
}

/// An absolute upstream URL assembled from a checked base, encoded path segments and encoded query
/// pairs: nothing else can be put in it.
public struct UpstreamURL: Sendable, Equatable, CustomStringConvertible {
  /// The URL text.
  public let text: String

  /// `base/segment/segment?pairs`. The base (a route file's `url`) must be `http://`, `https://` or
  /// `echo://` followed only by URL characters, with no query or fragment of its own.
  public init(base: String, path: [PathSegment], query: [QueryItem] = []) throws(UpstreamTargetError) {
    // Byte comparisons, not `lowercased()` and `String.contains`: this runs for every upstream request, and
    // String's substring search goes through the regex engine.
    guard ["http://", "https://", "echo://"].contains(where: { WireGrammar.hasASCIIPrefix(base, caseInsensitive: $0) })
    else {
      throw UpstreamTargetError(.baseURL, "is not an http://, https:// or echo:// URL")
    }
    guard WireGrammar.holdsOnly(WireGrammar.urlBytes, base, checkingEscapes: true) else {
      throw UpstreamTargetError(.baseURL, "holds characters a URL may not hold")
    }
    guard !base.utf8.contains(UInt8(ascii: "?")) else {
      throw UpstreamTargetError(.baseURL, "has a query of its own")
    }
    // Only URL bytes (ASCII) are left, so dropping trailing `/` bytes drops whole characters.
    var text = base
    while text.utf8.last == UInt8(ascii: "/") { text.removeLast() }
    for segment in path { text += "/" + segment.encoded }
    if !query.isEmpty { text += "?" + query.map(\.encoded).joined(separator: "&") }
    self.text = text
  }

  public var description: String { text }
}

/// An HTTP header name: an RFC 9110 token, nothing else.
public struct HeaderName: Sendable, Equatable {
  /// The name.
  public let text: String

  /// Checks `text`; anything but token characters (a space, `:`, CR, LF, NUL) is refused.
  public init(_ text: String) throws(UpstreamTargetError) {
    guard !text.isEmpty, WireGrammar.holdsOnly(WireGrammar.tokenBytes, text) else {
      throw UpstreamTargetError(.headerName, "is not an HTTP token")
    }
    self.text = text
  }
}

/// An HTTP header value with no control character but HTAB: a CR, LF or NUL cannot end the header.
public struct HeaderValue: Sendable, Equatable {
  /// The value.
  public let text: String

  /// Checks `text`; a control character other than HTAB is refused.
  public init(_ text: String) throws(UpstreamTargetError) {
    guard WireGrammar.holdsOnly(WireGrammar.fieldValueBytes, text) else {
      throw UpstreamTargetError(.headerValue, "holds a control character")
    }
    self.text = text
  }
}

/// A checked header of an upstream request.
public struct UpstreamHeaderField: Sendable, Equatable {
  /// Name.
  public let name: HeaderName
  /// Value.
  public let value: HeaderValue

  /// Checks both parts; the error names the header but never repeats the value.
  public init(_ name: String, _ value: String) throws(UpstreamTargetError) {
    let checkedName = try HeaderName(name)
    do {
      self.value = try HeaderValue(value)
    } catch {
      throw UpstreamTargetError(.headerValue, "of '\(name)' holds a control character")
    }
    self.name = checkedName
  }
}
