import RouteSpec
import Testing

@testable import RouterRuntime

/// A list of one content, or of one part, is decoded apart from longer lists: seeded hostile contents and parts
/// decode alone as they do with others beside them (and as the element decoders read them), values, unknown
/// fields and errors alike.
@Suite struct RequestPathDecodeTests {
  static func part(_ random: inout SeededGenerator) -> JSONValue {
    let values: [JSONValue] = [
      "hi", "", 5, .null, true, .object([:]), ["a"], .object(["mimeType": "image/png", "data": "AAAA"]),
      .object(["mimeType": "image/png", "data": "!!"]), .object(["name": "f", "args": .object(["x": 1])]),
    ]
    let names = [
      "text", "text", "inlineData", "inline_data", "functionCall", "thought", "thoughtSignature", "odd", "fileData",
    ]
    return .object(
      (0..<Int.random(in: 0...3, using: &random)).map { _ in
        JSONMember(names.randomElement(using: &random) ?? "", values.randomElement(using: &random) ?? .null)
      })
  }

  static func content(_ random: inout SeededGenerator) -> JSONValue {
    var members: [JSONMember] = []
    if Bool.random(using: &random) {
      members.append(JSONMember("role", ["user", "model", .null, 3].randomElement(using: &random) ?? .null))
    }
    switch Int.random(in: 0..<5, using: &random) {
    case 0: members.append(JSONMember("parts", part(&random)))
    case 1: members.append(JSONMember("parts", "x"))
    default:
      members.append(
        JSONMember("parts", .array((0..<Int.random(in: 0...2, using: &random)).map { _ in part(&random) })))
    }
    if Int.random(in: 0..<6, using: &random) == 0 { members.append(JSONMember("extra", 1)) }
    return .object(members)
  }

  /// What a decode gave: the contents and the unknown fields reported.
  struct Outcome: Equatable {
    var contents: [GeminiContent]
    var unknown: [String]
  }

  /// The request as its contents decode one by one through the element decoder.
  static func elementWise(_ contents: [JSONValue]) -> Result<Outcome, GeminiRequestError> {
    Result { () throws(GeminiRequestError) in
      var unknown: [String] = []
      var decoded: [GeminiContent] = []
      for index in contents.indices {
        decoded.append(
          try GeminiContent.decode(contents[index], path: FieldPath("", "contents", index), unknown: &unknown))
      }
      return Outcome(contents: decoded, unknown: unknown)
    }
  }

  static func decoded(_ contents: [JSONValue]) -> Result<Outcome, GeminiRequestError> {
    Result { () throws(GeminiRequestError) in
      let request = try GeminiRequest.decode(.object(["contents": .array(contents)]))
      return Outcome(contents: request.contents, unknown: request.unknownFields)
    }
  }

  @Test func aLoneContentOrPartDecodesAsInALongerList() {
    var random = SeededGenerator(state: 0xDEC0DE)
    var failed = 0
    for _ in 0..<5_000 {
      let contents = (0..<Int.random(in: 1...3, using: &random)).map { _ in Self.content(&random) }
      let whole = Self.decoded(contents)
      #expect(whole == Self.elementWise(contents), "\(JSONValue.array(contents).serialized())")
      if case .failure = whole { failed += 1 }
      // Each content alone, and each content with one part only: as in the list.
      for content in contents {
        #expect(Self.decoded([content]) == Self.elementWise([content]))
        if case .array(let parts)? = content["parts"], !parts.isEmpty {
          let single = JSONValue.object(["parts": .array([parts[0]])])
          let pair = JSONValue.object(["parts": .array([parts[0], parts[0]])])
          // The lone part decodes as the first of two like it: the same part, the same unknown fields
          // (at `parts[0]`), the same error.
          switch (Self.decoded([single]), Self.decoded([pair])) {
          case (.failure(let alone), .failure(let both)): #expect(alone == both)
          case (.success(let one), .success(let two)):
            let parts = one.contents.first?.parts ?? []
            #expect(two.contents.first?.parts == parts + parts)
            #expect(two.unknown.filter { !$0.contains("parts[1]") } == one.unknown)
          default: Issue.record("a lone part and a pair of it decode differently: \(single.serialized())")
          }
        }
      }
    }
    // Both kinds were tried, in numbers.
    #expect(failed > 500 && failed < 4_500, "\(failed)")
  }
}
