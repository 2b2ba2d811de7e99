import RouteSpec
import Testing

@testable import RouterRuntime

/// The rules of `GeminiCall.decode` as they were before it read an unescaped path in place and checked the model
/// id on its bytes, written again over arrays and strings: the reference the differential test holds it to.
enum RecordCostGeminiReference {
  enum Outcome: Equatable {
    case call(GeminiCall?)
    case refused(GeminiError)
  }

  static func decode(httpMethod: String, path rawPath: String) -> Outcome {
    guard let path = GeminiCall.percentDecoded(rawPath) else { return .call(nil) }
    guard let (version, rest) = versionAndRest(Array(path.utf8)) else { return .call(nil) }
    if rest == Array("models".utf8) || rest == Array("models/".utf8) {
      return .call(httpMethod == "GET" ? GeminiCall(version: version, method: .listModels, model: "") : nil)
    }
    let prefix = Array("models/".utf8)
    guard rest.starts(with: prefix) else { return .call(nil) }
    var id = Array(rest.dropFirst(prefix.count))
    if id.starts(with: prefix) { id = Array(id.dropFirst(prefix.count)) }
    // The method after the last `:`, when it names a POST method.
    var named: GeminiCall.Method?
    if let colon = id.lastIndex(of: UInt8(ascii: ":")),
      let method = GeminiCall.Method(rawValue: String(decoding: id[(colon + 1)...], as: UTF8.self)),
      method != .listModels, method != .getModel
    {
      named = method
      id = Array(id[..<colon])
    }
    guard httpMethod == (named == nil ? "GET" : "POST") else { return .call(nil) }
    let model = String(decoding: id, as: UTF8.self)
    if let problem = modelProblem(model) {
      return .refused(.invalidArgument("The model name is not valid: \(problem)."))
    }
    return .call(GeminiCall(version: version, method: named ?? .getModel, model: model))
  }

  /// `/{version}/{rest}` with a served version; nil for any other path.
  private static func versionAndRest(_ bytes: [UInt8]) -> (String, [UInt8])? {
    guard bytes.first == UInt8(ascii: "/"), let end = bytes.dropFirst().firstIndex(of: UInt8(ascii: "/")) else {
      return nil
    }
    let segment = String(decoding: bytes[1..<end], as: UTF8.self)
    guard let version = GeminiCall.versions.first(where: { $0 == segment }) else { return nil }
    return (version, Array(bytes[(end + 1)...]))
  }

  static func modelProblem(_ model: String) -> String? {
    if model.isEmpty { return "it is empty" }
    if model.utf8.count > GeminiCall.maxModelLength { return "it is longer than \(GeminiCall.maxModelLength) bytes" }
    var text = model
    let problems = text.withUTF8 { bytes -> (disallowed: Bool, doubleDot: Bool, emptyPart: Bool) in
      let dot = UInt8(ascii: ".")
      let slash = UInt8(ascii: "/")
      var found: (disallowed: Bool, doubleDot: Bool, emptyPart: Bool) = (false, false, false)
      var previous = slash
      for byte in bytes {
        let allowed =
          (WireGrammar.isUnreserved(byte) && byte != UInt8(ascii: "~"))
          || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "@") || byte == slash
        if !allowed { found.disallowed = true }
        if byte == dot, previous == dot { found.doubleDot = true }
        if byte == slash, previous == slash { found.emptyPart = true }
        previous = byte
      }
      if previous == slash { found.emptyPart = true }
      return found
    }
    if problems.disallowed {
      return "only letters, digits and - _ . : @ / may appear in it (no spaces, control characters or %)"
    }
    if problems.doubleDot { return "it may not contain '..'" }
    if problems.emptyPart { return "'/' may only separate two non-empty parts" }
    return nil
  }
}

/// `GeminiCall.decode` against the reference over generated paths: valid and hostile model names, escapes,
/// dots, colons, slashes, long names, missing parts.
@Suite struct RecordCostGeminiCallTests {
  static func decoded(_ method: String, _ path: String) -> RecordCostGeminiReference.Outcome {
    do throws(GeminiError) {
      return .call(try GeminiCall.decode(httpMethod: method, path: path))
    } catch {
      return .refused(error)
    }
  }

  /// A random path built from the pieces the parser splits on, and hostile bytes among them.
  static func path(_ random: inout SeededGenerator) -> String {
    let prefixes = [
      "/v1beta/models/", "/v1/models/", "/v1alpha/models/", "/v1beta/models/models/", "/v2/models/", "/v1beta/",
      "/v1beta/models", "/v1beta", "/", "", "v1beta/models/", "/v1beta//models/", "/V1beta/models/", "/v1beta/model/",
      "%2Fv1beta%2Fmodels%2F", "/v1%62eta/models/", "/v1beta/models/models/models/",
    ]
    let pieces = [
      "gemini-2.5-flash", "bench-model", "gpt-4o", "llama3.2", "3b", "openai", "@", "_", "-", ".", "..", ":", "/", "//",
      "~", " ", "%", "%2F", "%3A", "%3a", "%2E%2E", "%zz", "%4", "%C3%A9", "%FF", "%00", "é", "日本", "\u{7F}", "\t",
      "?", "#", "&", "+", "generateContent", ":generateContent", ":streamGenerateContent", ":countTokens",
      ":embedContent", ":batchEmbedContents", ":listModels", ":getModel", ":GenerateContent", "models/", "models",
      String(repeating: "a", count: 250), String(repeating: "b.", count: 70),
    ]
    if random.next() % 3 == 0 {
      // A well-formed call: a served version, a valid id (sometimes with `/`, `:` or `@`), a method or none.
      let ids = ["gemini-2.5-flash", "bench-model", "openai/gpt-4o", "llama3.2:3b", "claude@2024", "a", "x_y.z"]
      let suffixes = ["", ":generateContent", ":streamGenerateContent", ":countTokens", ":embedContent", ":unknown"]
      return prefixes[Int(random.next() % 4)] + ids[Int(random.next() % UInt64(ids.count))]
        + suffixes[Int(random.next() % UInt64(suffixes.count))]
    }
    var path = prefixes[Int(random.next() % UInt64(prefixes.count))]
    let count = Int(random.next() % 7)
    for _ in 0..<count { path += pieces[Int(random.next() % UInt64(pieces.count))] }
    if random.next() % 4 == 0 {
      // A random byte sequence now and then, made text the way a request target becomes one.
      let bytes = (0..<Int(random.next() % 12)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
      path += String(decoding: bytes, as: UTF8.self)
    }
    return path
  }

  @Test func decodesAsTheReferenceOverGeneratedPaths() {
    var random = SeededGenerator(state: 0x5EED_0001)
    let methods = ["POST", "GET", "POST", "GET", "PUT", "post", ""]
    var calls = 0
    var refusals = 0
    for _ in 0..<6000 {
      let path = Self.path(&random)
      let method = methods[Int(random.next() % UInt64(methods.count))]
      let expected = RecordCostGeminiReference.decode(httpMethod: method, path: path)
      let got = Self.decoded(method, path)
      #expect(got == expected, "\(method) \(path.debugDescription)")
      switch expected {
      case .call(.some): calls += 1
      case .refused: refusals += 1
      case .call(.none): break
      }
    }
    // The generator reaches every outcome, and often enough to compare them.
    #expect(calls > 500)
    #expect(refusals > 200)
  }

  @Test func modelProblemMatchesTheReferenceOverGeneratedIds() {
    var random = SeededGenerator(state: 0x5EED_0002)
    for _ in 0..<3000 {
      let id = String(Self.path(&random).dropFirst(Int(random.next() % 16)))
      #expect(GeminiCall.modelProblem(id) == RecordCostGeminiReference.modelProblem(id), "\(id.debugDescription)")
    }
  }

  /// Every ASCII byte is allowed in a model id, or refused, as the reference says: alone, amid other bytes, last.
  @Test func modelProblemMatchesTheReferenceForEveryASCIIByte() {
    for byte in UInt8(0)...127 {
      let text = String(decoding: [byte], as: UTF8.self)
      for id in [text, "a\(text)b", "model-\(text)", "\(text)\(text)"] {
        #expect(GeminiCall.modelProblem(id) == RecordCostGeminiReference.modelProblem(id), "\(byte)")
      }
    }
  }

  /// The versions served are exactly `GeminiCall.versions`, each answered with its own string.
  @Test func everyVersionIsServedAndNoOther() {
    for version in GeminiCall.versions {
      #expect(GeminiCall.parse(httpMethod: "GET", path: "/\(version)/models")?.version == version)
      #expect(
        GeminiCall.parse(httpMethod: "POST", path: "/\(version)/models/m:countTokens")
          == GeminiCall(version: version, method: .countTokens, model: "m"))
      #expect(GeminiCall.parse(httpMethod: "GET", path: "/\(version)x/models") == nil)
      #expect(GeminiCall.parse(httpMethod: "GET", path: "/\(version.dropLast())/models") == nil)
    }
  }
}
