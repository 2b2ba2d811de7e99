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
  public static let versions: Set<String> = ["v1", "v1beta", "v1alpha"]

  /// Parses `POST /v1beta/models/gemini-2.5-flash:generateContent` and friends; nil when the path is not a Gemini call.
  ///
  /// Model ids may hold `/` (`openai/gpt-4o`) and `:` (`llama3.2:3b`), so the path is split at the
  /// last `:` only when what follows is a known method name.
  public static func parse(httpMethod: String, path rawPath: String) -> GeminiCall? {
    guard let path = percentDecoded(rawPath) else { return nil }
    let segments = path.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
    guard segments.count == 3, segments[0].isEmpty, versions.contains(String(segments[1])) else { return nil }
    let version = String(segments[1])
    var rest = segments[2]
    if rest == "models" || rest == "models/" {
      return httpMethod == "GET" ? GeminiCall(version: version, method: .listModels, model: "") : nil
    }
    guard rest.hasPrefix("models/") else { return nil }
    rest = rest.dropFirst("models/".count)
    // SDKs sometimes send the id with its own `models/` prefix once more.
    if rest.hasPrefix("models/") { rest = rest.dropFirst("models/".count) }
    if let colon = rest.lastIndex(of: ":"), let method = Method(rawValue: String(rest[rest.index(after: colon)...])),
      method != .listModels, method != .getModel
    {
      let model = String(rest[..<colon])
      guard httpMethod == "POST", validModel(model) else { return nil }
      return GeminiCall(version: version, method: method, model: model)
    }
    let model = String(rest)
    guard httpMethod == "GET", validModel(model) else { return nil }
    return GeminiCall(version: version, method: .getModel, model: model)
  }

  private static func validModel(_ model: String) -> Bool {
    !model.isEmpty && !model.contains("..") && !model.contains("?") && !model.contains("&")
  }

  /// Percent-decodes a path; nil when an escape is malformed or the result is not UTF-8.
  public static func percentDecoded(_ text: String) -> String? {
    guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    var iterator = text.utf8.makeIterator()
    while let byte = iterator.next() {
      guard byte == UInt8(ascii: "%") else {
        bytes.append(byte)
        continue
      }
      guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
        return nil
      }
      bytes.append(high << 4 | low)
    }
    return String(validating: bytes, as: UTF8.self)
  }

  private static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
  }
}

/// Query-string helpers for the front.
public enum QueryString {
  /// The first value of `name` in a raw query string (`a=1&key=x`), percent-decoded (`+` as space).
  public static func value(_ name: String, in query: String?) -> String? {
    guard let query else { return nil }
    for pair in query.split(separator: "&") {
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      guard parts.count >= 1, parts[0] == name else { continue }
      let raw = parts.count == 2 ? String(parts[1]) : ""
      return GeminiCall.percentDecoded(raw.replacingAll("+", with: " ")) ?? raw
    }
    return nil
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
