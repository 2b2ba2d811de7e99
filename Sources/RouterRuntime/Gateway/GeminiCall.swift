public import RouteSpec

/// What a request to the Gemini front asks for, parsed from its method and path.
public struct GeminiCall: Sendable, Equatable {
  /// The API method.
  public enum Method: String, Sendable, Equatable, CaseIterable {
    case generateContent
    case streamGenerateContent
    case countTokens
    case embedContent
    case batchEmbedContents
    case listModels
    case getModel
  }

  /// The API version segment as the client sent it (`v1`, `v1beta`, `v1alpha`); upstream calls keep it.
  public let version: String
  /// The method.
  public let method: Method
  /// The model id, without `models/` (empty for `listModels`).
  public let model: String

  /// The route-language endpoint this call is.
  public var endpoint: Endpoint {
    switch method {
    case .generateContent: .generate
    case .streamGenerateContent: .stream
    case .countTokens: .countTokens
    case .embedContent, .batchEmbedContents: .embed
    case .listModels, .getModel: .listModels
    }
  }

  /// The API versions louter serves.
  public static let versions: [String] = ["v1", "v1beta", "v1alpha"]

  /// Parses `POST /v1beta/models/gemini-2.5-flash:generateContent` and friends; nil when the path is not a
  /// Gemini call or its model id is not valid (`decode` tells the two apart).
  public static func parse(httpMethod: String, path rawPath: String) -> GeminiCall? {
    (try? decode(httpMethod: httpMethod, path: rawPath)) ?? nil
  }

  /// Parses a Gemini call: nil when the path is not one, a 400 `INVALID_ARGUMENT` when it is one but its
  /// model id falls outside `modelProblem`'s grammar (checked after percent-decoding, before routing).
  ///
  /// Model ids may hold `/` (`openai/gpt-4o`) and `:` (`llama3.2:3b`), so the path is split at the
  /// last `:` only when what follows is a known method name.
  public static func decode(httpMethod: String, path rawPath: String) throws(GeminiError) -> GeminiCall? {
    // On the string's own bytes, not `Character`s nor `Substring` views: a path is ASCII on the wire, and
    // both cost more than the rest of the front together; every non-ASCII byte left in a model id is refused
    // by `modelProblem`. A path without escapes (every SDK's) is read in place, without decoding a copy.
    var raw = rawPath
    var shape = raw.withUTF8 { bytes in Self.firstEscape(in: bytes) == nil ? PathShape(bytes) : nil }
    if shape == nil {
      guard var path = percentDecoded(rawPath) else { return nil }
      shape = path.withUTF8(PathShape.init)
    }
    switch shape {
    case .none, .notGemini:
      return nil
    case .list(let version):
      return httpMethod == "GET" ? GeminiCall(version: version, method: .listModels, model: "") : nil
    case .model(let version, let named, let id, let problem):
      guard httpMethod == (named == nil ? "GET" : "POST") else { return nil }
      if let problem { throw .invalidArgument("The model name is not valid: \(problem).") }
      return GeminiCall(version: version, method: named ?? .getModel, model: id)
    }
  }

  /// The index of the first `%` in `bytes`, or nil.
  private static func firstEscape(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
    // A plain loop: `contains` over the buffer was not specialised here and cost seven instructions a byte.
    var index = 0
    while index < bytes.count {
      if bytes[index] == UInt8(ascii: "%") { return index }
      index += 1
    }
    return nil
  }

  /// What a percent-decoded path names: `/{version}/models`, or `/{version}/models/[models/]{id}[:{method}]`
  /// (the id's own `models/` prefix sometimes comes twice from SDKs).
  private enum PathShape {
    case notGemini
    case list(version: String)
    /// A method after the last `:` when the text there is one of the POST methods' names, else a GET of `id`;
    /// `problem` is `modelProblem`'s answer for the id, found on its bytes before it became a string.
    case model(version: String, method: Method?, id: String, problem: String?)

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
      let slash = UInt8(ascii: "/")
      guard bytes.count > 1, bytes[0] == slash else {
        self = .notGemini
        return
      }
      var versionEnd = 1
      while versionEnd < bytes.count, bytes[versionEnd] != slash { versionEnd += 1 }
      guard versionEnd < bytes.count, let version = Self.version(UnsafeBufferPointer(rebasing: bytes[1..<versionEnd]))
      else {
        self = .notGemini
        return
      }
      var start = versionEnd + 1
      let rest = UnsafeBufferPointer(rebasing: bytes[start...])
      if rest.holds(exactly: "models") || rest.holds(exactly: "models/") {
        self = .list(version: version)
        return
      }
      let models: StaticString = "models/"
      guard bytes.starts(with: models, at: start) else {
        self = .notGemini
        return
      }
      start += models.utf8CodeUnitCount
      if bytes.starts(with: models, at: start) { start += models.utf8CodeUnitCount }
      // The last `:` of the id, searched from the end: what follows it is short, the id may not be.
      var colon = bytes.count - 1
      while colon >= start, bytes[colon] != UInt8(ascii: ":") { colon -= 1 }
      var end = bytes.count
      var named: Method?
      if colon >= start, let method = Self.postMethod(named: UnsafeBufferPointer(rebasing: bytes[(colon + 1)...])) {
        named = method
        end = colon
      }
      let id = UnsafeBufferPointer(rebasing: bytes[start..<end])
      self = .model(
        version: version, method: named, id: String(decoding: id, as: UTF8.self),
        problem: GeminiCall.modelProblem(bytes: id))
    }

    /// The version a segment names, as one of ``GeminiCall/versions``' own strings; nil for any other segment.
    private static func version(_ segment: UnsafeBufferPointer<UInt8>) -> String? {
      // Against each version's literal bytes: a `String`'s bytes are reached through a copy or its `utf8` view.
      if segment.holds(exactly: "v1beta") { return GeminiCall.versions[1] }
      if segment.holds(exactly: "v1") { return GeminiCall.versions[0] }
      if segment.holds(exactly: "v1alpha") { return GeminiCall.versions[2] }
      return nil
    }

    /// The method a name after `:` calls, compared with each name's literal bytes; nil for any other name (the
    /// GETs are named by the path's shape, not after a colon).
    private static func postMethod(named name: UnsafeBufferPointer<UInt8>) -> Method? {
      if name.holds(exactly: "generateContent") { return .generateContent }
      if name.holds(exactly: "streamGenerateContent") { return .streamGenerateContent }
      if name.holds(exactly: "countTokens") { return .countTokens }
      if name.holds(exactly: "embedContent") { return .embedContent }
      if name.holds(exactly: "batchEmbedContents") { return .batchEmbedContents }
      return nil
    }
  }

  /// The longest model id accepted, in bytes.
  public static let maxModelLength = 256

  /// Why `model` is not a model id, or nil when it is one.
  ///
  /// The grammar is what real ids look like (`gemini-2.5-flash`, `gpt-4o-2024-08-06`, `llama3.2:3b`,
  /// `claude-3-5-sonnet@20240620`, `openai/gpt-4o`): ASCII letters, digits, `-`, `_`, `.`, `:` and `@`,
  /// in `/`-separated non-empty segments, at most `maxModelLength` bytes, with no `..`. Control
  /// characters, spaces, `%`, `?`, `#`, `&` and every non-ASCII byte are refused. The message never
  /// repeats the id: it may hold control characters.
  public static func modelProblem(_ model: String) -> String? {
    var text = model
    return text.withUTF8 { modelProblem(bytes: $0) }
  }

  /// The bytes a model id may hold, `A-Z a-z 0-9 - _ . : @ /`: the unreserved bytes of a URL path but `~`, and `:`
  /// `@` `/`. Built once from that rule as a table (a load and a bit test a byte).
  private static let idBytes = ByteClass { byte in
    (WireGrammar.isUnreserved(byte) && byte != UInt8(ascii: "~"))
      || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "@") || byte == UInt8(ascii: "/")
  }

  /// ``modelProblem(_:)`` of the id whose UTF-8 bytes are `bytes`.
  private static func modelProblem(bytes: UnsafeBufferPointer<UInt8>) -> String? {
    if bytes.isEmpty { return "it is empty" }
    if bytes.count > maxModelLength { return "it is longer than \(maxModelLength) bytes" }
    // One pass over the bytes: String's substring search goes through the regex engine, and its `utf8` view's
    // iterator costs several times a buffer's, on every request.
    let dot = UInt8(ascii: ".")
    let slash = UInt8(ascii: "/")
    var disallowed = false
    var doubleDot = false
    var emptyPart = false
    // A separator first, last or doubled leaves an empty part: as if one came before the first byte.
    var previous = slash
    for byte in bytes {
      if !idBytes.contains(byte) { disallowed = true }
      if byte == dot, previous == dot { doubleDot = true }
      if byte == slash, previous == slash { emptyPart = true }
      previous = byte
    }
    if previous == slash { emptyPart = true }
    if disallowed {
      return "only letters, digits and - _ . : @ / may appear in it (no spaces, control characters or %)"
    }
    if doubleDot { return "it may not contain '..'" }
    if emptyPart { return "'/' may only separate two non-empty parts" }
    return nil
  }

  /// Percent-decodes a path; nil when an escape is malformed or the result is not UTF-8.
  public static func percentDecoded(_ text: String) -> String? {
    var scanned = text
    guard scanned.withUTF8({ $0.contains(UInt8(ascii: "%")) }) else { return text }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    var iterator = text.utf8.makeIterator()
    while let byte = iterator.next() {
      guard byte == UInt8(ascii: "%") else {
        bytes.append(byte)
        continue
      }
      guard let high = iterator.next().flatMap(HexDigit.value), let low = iterator.next().flatMap(HexDigit.value) else {
        return nil
      }
      bytes.append(high << 4 | low)
    }
    return UTF8Text.validated(bytes)
  }
}

/// Query-string helpers for the front.
///
/// They scan bytes, not `Character`s: a query comes from a request target, which the HTTP parser holds to
/// visible ASCII, so the two agree, and a `Character` split cost a streamed request about 10k instructions
/// per lookup (four lookups each).
public enum QueryString {
  /// The first value of `name` in a raw query string (`a=1&key=x`), percent-decoded (`+` as space); the raw value
  /// when its escapes are malformed; `""` for a bare `name`.
  public static func value(_ name: String, in query: String?) -> String? {
    guard let query else { return nil }
    // The pair is found in the query's own bytes: the `utf8` views' generic searches cost more than the rest of
    // the front, and a streamed request looks up `alt` and `$alt` several times.
    var text = query
    var wanted = name
    let found = text.withUTF8 { bytes in wanted.withUTF8 { key in rawValue(named: key, in: bytes) } }
    guard let found else { return nil }
    let utf8 = query.utf8
    let lower = utf8.index(utf8.startIndex, offsetBy: found.lowerBound)
    let raw = Substring(utf8[lower..<utf8.index(lower, offsetBy: found.count)])
    return decoded(raw) ?? String(raw)
  }

  /// Where the raw value of the first pair whose raw name is `name` lies in `query` (empty for a bare `name`, at
  /// the name's end); nil when no pair has that name. Pairs split at `&`; empty pairs are skipped.
  private static func rawValue(named name: UnsafeBufferPointer<UInt8>, in query: UnsafeBufferPointer<UInt8>)
    -> Range<Int>?
  {
    var start = 0
    while start < query.count {
      var end = start
      while end < query.count, query[end] != UInt8(ascii: "&") { end += 1 }
      if start < end {
        var equals = start
        while equals < end, query[equals] != UInt8(ascii: "=") { equals += 1 }
        if UnsafeBufferPointer(rebasing: query[start..<equals]).elementsEqual(name) {
          return equals < end ? (equals + 1)..<end : end..<end
        }
      }
      start = end + 1
    }
    return nil
  }

  /// The pairs of a raw query, percent-decoded (`+` as space); nil when an escape is malformed.
  public static func items(_ query: String?) -> [QueryItem]? {
    guard let query else { return [] }
    var items: [QueryItem] = []
    var malformed = false
    forEachPair(query) { key, value in
      guard let name = decoded(key) else {
        malformed = true
        return false
      }
      var decodedValue: String?
      if let value {
        guard let text = decoded(value) else {
          malformed = true
          return false
        }
        decodedValue = text
      }
      items.append(QueryItem(name, decodedValue))
      return true
    }
    return malformed ? nil : items
  }

  /// Calls `body` with each `name=value` pair of a raw query (split at `&`, empty pairs skipped; a pair without
  /// `=` has a nil value) until it returns false.
  static func forEachPair(_ query: String, _ body: (Substring, Substring?) -> Bool) {
    let bytes = query.utf8
    var start = bytes.startIndex
    while start < bytes.endIndex {
      let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.endIndex
      if start < end {
        let pair = bytes[start..<end]
        let more: Bool
        if let equals = pair.firstIndex(of: UInt8(ascii: "=")) {
          more = body(Substring(bytes[start..<equals]), Substring(bytes[bytes.index(after: equals)..<end]))
        } else {
          more = body(Substring(pair), nil)
        }
        guard more else { return }
      }
      start = end < bytes.endIndex ? bytes.index(after: end) : end
    }
  }

  /// A query component percent-decoded, with `+` as a space (the form encoding); nil when an escape is malformed
  /// or the decoded bytes are not UTF-8.
  static func decoded(_ component: Substring) -> String? {
    let plus = UInt8(ascii: "+")
    guard component.utf8.contains(plus) else { return GeminiCall.percentDecoded(String(component)) }
    // `+` is one byte and never inside a multi-byte sequence, so the swap keeps valid UTF-8 valid.
    let spaced = component.utf8.map { $0 == plus ? UInt8(ascii: " ") : $0 }
    return GeminiCall.percentDecoded(String(decoding: spaced, as: UTF8.self))
  }

  /// The query without the parameters named in `names` (the client's `key` never goes upstream).
  public static func removing(_ names: Set<String>, from query: String?) -> String? {
    guard let query else { return nil }
    let kept = query.split(separator: "&").filter { pair in
      let name = pair.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
      return !names.contains(name)
    }
    return kept.isEmpty ? nil : kept.joined(separator: "&")
  }
}
