import RouteSpec
import Testing

@testable import RouterRuntime

/// The decoder's and translator's shortcuts (field lookup by length and bit flags, paths written out only when
/// needed, text turns built without per-part objects) read and write exactly what the plain forms did.
@Suite struct TranslationFastPathTests {
  /// Members past the 64th are tracked apart from the first 64; both are read and reported alike.
  @Test func anObjectOfMoreThan64MembersIsReadWhole() throws {
    let extra = (0..<68).map { "\"f\($0)\":\($0)" }.joined(separator: ",")
    let request = try GeminiRequest.decode(
      trJSON(#"{"contents":[{"parts":[{"# + extra + #","text":"hi","thought":true}]}]}"#))
    let part = try #require(request.contents.first?.parts.first)
    #expect(part.payload == .text("hi"))
    #expect(part.thought)
    #expect(request.unknownFields == (0..<68).map { "contents[0].parts[0].f\($0)" })
  }

  /// Field names compare as Strings do (canonical equivalence): `top` + KELVIN SIGN is `topK`, though its bytes
  /// are longer. The length shortcut applies only to ASCII names.
  @Test func aNonASCIIFieldNameEqualToAKnownNameIsThatField() throws {
    let request = try GeminiRequest.decode(
      trJSON(#"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"top\u212A":5}}"#))
    #expect(request.generationConfig.topK == 5)
    #expect(request.unknownFields.isEmpty)
  }

  /// A snake_case member among camelCase ones is found by its canonical name and reported by its own.
  @Test func snakeCaseAndUnknownMembersMix() throws {
    let request = try GeminiRequest.decode(
      trJSON(
        #"{"contents":[{"parts":[{"text":"hi"}]}],"generation_config":{"max_output_tokens":7,"top_p":0.5,"odd_one":1}}"#
      ))
    #expect(request.generationConfig.maxOutputTokens == 7)
    #expect(request.generationConfig.topP == 0.5)
    #expect(request.unknownFields == ["generationConfig.odd_one"])
  }

  /// The shortcut for `{"text": "…"}` parts takes only that shape: any other lone member goes the long way.
  @Test func aLoneTextMemberIsReadOnlyWhenItIsAString() throws {
    #expect(
      try trDecodeError(#"{"contents":[{"parts":[{"text":5}]}]}"#) == "contents[0].parts[0]: text must be a string")
    let request = try GeminiRequest.decode(
      trJSON(#"{"contents":[{"parts":[{"text":"a"},{"_text":"b"},{"text":null}]}]}"#))
    #expect(request.contents.first?.parts.map(\.payload) == [.text("a"), .text("b"), .empty])
  }

  /// The shortcut for `{"role", "parts"}` contents takes only that shape; others (duplicates, null, snake_case,
  /// a single part object, extra members) go the long way and read as before.
  @Test func onlyPlainContentsSkipTheReader() throws {
    let request = try GeminiRequest.decode(
      trJSON(
        #"""
        {"contents":[{"parts":[{"text":"a"}]},{"role":"model","parts":[{"text":"b"}],"role":"user"},
         {"role":null,"parts":{"text":"c"}},{"_role":"user","parts":[{"text":"d","odd":1}],"extra":2},
         {"role":"user"}]}
        """#))
    #expect(request.contents.map(\.role) == [nil, "model", nil, "user", "user"])
    #expect(
      request.contents.map { $0.parts.map(\.payload) } == [[.text("a")], [.text("b")], [.text("c")], [.text("d")], []])
    #expect(request.unknownFields == ["contents[3].parts[0].odd", "contents[3].extra"])
    #expect(try trDecodeError(#"{"contents":[{"role":5,"parts":[]}]}"#) == "contents[0]: role must be a string")
  }

  /// Every data member of an over-full part is named, in reading order.
  @Test func aPartWithThreeDataMembersNamesThemAll() throws {
    let message = try trDecodeError(
      #"{"contents":[{"parts":[{"functionCall":{"name":"f"},"text":"a","inlineData":{"mimeType":"image/png","data":"AAAA"}}]}]}"#
    )
    #expect(
      message
        == "contents[0].parts[0]: a part must have exactly one data field, found text and inlineData and functionCall")
  }

  /// Paths written out late still name the right part.
  @Test func errorsAndWarningsNameTheirPart() throws {
    let error = try trTranslateError(
      #"{"contents":[{"role":"user","parts":[{"text":"a"},{"functionCall":{"name":"f"}}]}]}"#)
    #expect(error == "contents[0].parts[1]: functionCall must be in a model turn, not a user turn")
    let translated = try trTranslate(
      #"{"contents":[{"role":"model","parts":[{"text":"a"},{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]},{"role":"user","parts":[{"text":"b","videoMetadata":{}}]}]}"#
    )
    #expect(translated.warnings.headerValue == "dropped=contents[0].parts[1],contents[1].parts[0].videoMetadata")
    #expect(
      try trTranslateError(#"{"contents":[{"parts":[{"text":"a"}]},{"role":"robot","parts":[{"text":"b"}]}]}"#)
        == #"contents[1].role: must be "user" or "model", got "robot""#)
    let system = try GeminiRequest.decode(
      trJSON(
        #"{"systemInstruction":{"parts":[{"text":"s"},{"text":"t","odd":1}]},"contents":[{"parts":[{"text":"a"}]}]}"#))
    #expect(system.unknownFields == ["systemInstruction.parts[1].odd"])
  }

  /// A path written out late reads as one written out at once, at any depth.
  @Test func fieldPathsRenderAsWrittenOut() {
    #expect(FieldPath("").rendered == "")
    #expect(FieldPath("generationConfig").rendered == "generationConfig")
    #expect(FieldPath("", "contents", 2).rendered == "contents[2]")
    #expect(FieldPath("systemInstruction").appending("parts", 3).rendered == "systemInstruction.parts[3]")
    #expect(FieldPath("", "contents", 2).appending("parts", 0).rendered == "contents[2].parts[0]")
    #expect(
      FieldPath("", "contents", 2).appending("parts", 0).appending("x", 1).rendered == "contents[2].parts[0].x[1]")
  }

  /// A thought's media does not turn a text turn into a parts list; real media does, keeping each text part.
  @Test func onlyNonThoughtMediaMakesAPartsList() throws {
    let text = try trTranslate(
      #"{"contents":[{"role":"user","parts":[{"text":"a"},{"inlineData":{"mimeType":"image/png","data":"AAAA"},"thought":true},{"text":"b"}]}]}"#
    )
    #expect(
      String(decoding: text.bodyBytes, as: UTF8.self)
        == #"{"model":"gpt-4o","messages":[{"role":"user","content":"ab"}]}"#)
    let media = try trTranslate(
      #"{"contents":[{"role":"user","parts":[{"text":"a"},{"inlineData":{"mimeType":"image/png","data":"AAAA"}},{"executableCode":{"code":"x"}}]}]}"#
    )
    #expect(
      String(decoding: media.bodyBytes, as: UTF8.self)
        == #"{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"text","text":"\n```python\nx\n```\n"}]}]}"#
    )
  }
}

/// The shortcuts for plain requests, contents and parts against the reader each one bypasses: on generated
/// values near those shapes (names misspelt, duplicated, snake_case; wrong types; null; extra members), the
/// results, unknown fields and errors are the same.
@Suite struct DecodeShortcutTests {
  static let names = ["contents", "_contents", "role", "parts", "text", "_text", "Contents", "model", "thought"]

  static func value(_ random: inout SeededGenerator, depth: Int) -> JSONValue {
    switch Int.random(in: 0..<(depth > 0 ? 9 : 5), using: &random) {
    case 0: return .null
    case 1: return .string(["user", "model", "", "hi"].randomElement(using: &random) ?? "")
    case 2: return .int(Int64.random(in: -2...2, using: &random))
    case 3: return .bool(Bool.random(using: &random))
    case 4: return .double(0.5)
    case 5, 6:
      let members = (0..<Int.random(in: 0..<4, using: &random)).map { _ in
        JSONMember(names.randomElement(using: &random) ?? "", value(&random, depth: depth - 1))
      }
      return .object(members)
    default:
      return .array((0..<Int.random(in: 0..<3, using: &random)).map { _ in value(&random, depth: depth - 1) })
    }
  }

  /// Values shaped like a request, a content or a part, often exactly the shape a shortcut takes.
  static func shaped(_ random: inout SeededGenerator, depth: Int) -> JSONValue {
    switch Int.random(in: 0..<4, using: &random) {
    case 0: return .object([JSONMember("text", value(&random, depth: 0))])
    case 1:
      var members = [JSONMember("parts", .array((0..<2).map { _ in shaped(&random, depth: depth - 1) }))]
      if Bool.random(using: &random) { members.insert(JSONMember("role", value(&random, depth: 0)), at: 0) }
      return .object(members)
    case 2 where depth > 0:
      var members = [JSONMember("contents", .array((0..<2).map { _ in shaped(&random, depth: depth - 1) }))]
      if Bool.random(using: &random) {
        let other = JSONMember(names.randomElement(using: &random) ?? "", value(&random, depth: 1))
        members.insert(other, at: Int.random(in: 0...1, using: &random))
      }
      return .object(members)
    default: return value(&random, depth: depth)
    }
  }

  @Test func shortcutsDecodeAsTheReaderDoes() {
    var random = SeededGenerator(state: 11)
    var decoded = 0
    for _ in 0..<5000 {
      let json = Self.shaped(&random, depth: 3)
      let request = Result { () throws(GeminiRequestError) in try GeminiRequest.decode(json) }
      #expect(request == Result { () throws(GeminiRequestError) in try GeminiRequest.decodeMembers(json) }, "\(json)")
      if case .success = request { decoded += 1 }
      let path = FieldPath("", "contents", 1)
      var unknown = ["before"]
      let content = Result { () throws(GeminiRequestError) in
        try GeminiContent.decode(json, path: path, unknown: &unknown)
      }
      var generalUnknown = ["before"]
      let general = Result { () throws(GeminiRequestError) in
        try GeminiContent.decodeMembers(json, path: path, unknown: &generalUnknown)
      }
      // After an error what was collected no longer counts (the request fails).
      #expect(content == general && (general.isFailure || unknown == generalUnknown), "\(json)")
      var partUnknown: [String] = []
      let part = Result { () throws(GeminiRequestError) in
        try GeminiPart.decode(json, path: path.appending("parts", 0), unknown: &partUnknown)
      }
      var generalPartUnknown: [String] = []
      let generalPart = Result { () throws(GeminiRequestError) in
        try GeminiPart.decodeMembers(json, path: path.appending("parts", 0), unknown: &generalPartUnknown)
      }
      #expect(part == generalPart && (generalPart.isFailure || partUnknown == generalPartUnknown), "\(json)")
    }
    #expect(decoded > 500)
  }
}

extension Result {
  fileprivate var isFailure: Bool {
    if case .failure = self { return true }
    return false
  }
}
