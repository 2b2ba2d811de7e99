import Testing

@testable import RouteSpec

/// ``JSONSyntax/geminiRequest`` accepts trailing commas and nothing else; ``JSONSyntax/strict`` stays RFC 8259.
@Suite struct JSONLenientTests {
  /// Google's countTokens REST sample, as published (trailing comma after the last member).
  static let countTokensSample = """
    {
        "contents": [{
          "parts":[{
            "text": "The quick brown fox jumps over the lazy dog."
            }],
          }],
      }
    """

  private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

  @Test(arguments: [
    (#"{"a":1,}"#, #"{"a":1}"#),
    (#"[1,2,]"#, #"[1,2]"#),
    ("[1 , \n ]", "[1]"),
    (#"{"a":[{"b":[true,],},],}"#, #"{"a":[{"b":[true]}]}"#),
  ])
  func trailingCommasAreAcceptedForGeminiRequests(input: String, canonical: String) throws {
    #expect(try JSONParser.parse(input, syntax: .geminiRequest).serialized() == canonical)
    #expect(try JSONParser.parse(Array(input.utf8), syntax: .geminiRequest).serialized() == canonical)
  }

  @Test func googlesOwnSampleParses() throws {
    let value = try JSONParser.parse(Self.countTokensSample, syntax: .geminiRequest)
    #expect(
      value.serialized() == #"{"contents":[{"parts":[{"text":"The quick brown fox jumps over the lazy dog."}]}]}"#)
  }

  @Test(arguments: [#"{"a":1,}"#, #"[1,2,]"#, countTokensSample])
  func strictRefusesTrailingCommas(input: String) {
    #expect(throws: JSONParseError.self) { try JSONParser.parse(input) }
    #expect(throws: JSONParseError.self) { try JSONParser.parse(input, syntax: .strict) }
  }

  /// Only one comma after at least one member: everything else stays an error.
  @Test(arguments: [
    "{,}", "[,]", "[1,,2]", "[1,,]", #"{"a":1,,}"#, #"{"a":1}//c"#, "{'a':1}", "{a:1}", "[1,]x", "[1],", "[01,]",
    #"{"a":1 /* c */}"#,
  ])
  func everythingElseStaysAnError(input: String) {
    #expect(throws: JSONParseError.self) { try JSONParser.parse(input, syntax: .geminiRequest) }
  }

  @Test func errorOffsetsAreUnchanged() {
    #expect(throws: JSONParseError(offset: 7, message: "expected a string key in object, found '}'")) {
      try JSONParser.parse(#"{"a":1,}"#)
    }
  }

  /// Passthrough patches the client's bytes: a body with trailing commas is edited and stays the client's.
  @Test func patcherRewritesSystemInstructionInABodyWithTrailingCommas() throws {
    let body = #"{"contents":[{"parts":[{"text":"hi"},],},],"systemInstruction":{"parts":[{"text":"old"},],},}"#
    let layout = try JSONPatch.layout(of: Array(body.utf8))
    #expect(layout.members.map(\.key) == ["contents", "systemInstruction"])
    #expect(layout.trailingComma == body.utf8.count - 2)
    #expect(layout.closeBrace == body.utf8.count - 1)
    let edit = JSONPatch.MemberEdit(keys: JSONPatch.systemInstructionKeys) { old in
      #expect(old?["parts"]?.arrayValue?.first?["text"] == "old")
      return .object([JSONMember("parts", [.object([JSONMember("text", "new")])])])
    }
    let patched = try JSONPatch.apply([edit], to: Array(body.utf8))
    #expect(
      text(patched) == #"{"contents":[{"parts":[{"text":"hi"},],},],"systemInstruction":{"parts":[{"text":"new"}]},}"#)
  }

  @Test func patcherInsertsAndRemovesAroundATrailingComma() throws {
    let inserted = try JSONPatch.apply(
      [.set(JSONPatch.systemInstructionKeys, to: .object([]))], to: Array(#"{"contents":[],}"#.utf8))
    #expect(text(inserted) == #"{"contents":[],"systemInstruction":{},}"#)
    let removedLast = try JSONPatch.apply(
      [.remove(JSONPatch.generationConfigKeys)], to: Array(#"{"a":1,"generationConfig":{},}"#.utf8))
    #expect(text(removedLast) == #"{"a":1,}"#)
    let removedOnly = try JSONPatch.apply(
      [.remove(JSONPatch.generationConfigKeys)], to: Array(#"{"generationConfig":{"topK":1,}, }"#.utf8))
    #expect(text(removedOnly) == "{ }")
    #expect(throws: JSONParseError.self) { try JSONPatch.layout(of: Array("{,}".utf8)) }
  }
}
