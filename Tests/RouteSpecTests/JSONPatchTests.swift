import Testing

@testable import RouteSpec

@Suite struct JSONPatchTests {
  private let body =
    #"{ "contents" : [{"parts":[{"text":"hi"}]}],"system_instruction":{"parts":{"text":"old"}} , "generationConfig": {"topK": 40.0, "temperature":1.0e0}, "unknownField": "kept \u00e9" }"#

  private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

  @Test func layoutFindsExactRanges() throws {
    let bytes = Array(body.utf8)
    let layout = try JSONPatch.layout(of: bytes)
    #expect(layout.members.map(\.key) == ["contents", "system_instruction", "generationConfig", "unknownField"])
    #expect(layout.openBrace == 0)
    #expect(layout.closeBrace == bytes.count - 1)
    let system = try #require(layout.member(named: "systemInstruction", "system_instruction"))
    #expect(text(Array(bytes[system.keyRange])) == #""system_instruction""#)
    #expect(text(Array(bytes[system.valueRange])) == #"{"parts":{"text":"old"}}"#)
    let unknown = try #require(layout.member(named: "unknownField"))
    #expect(text(Array(bytes[unknown.valueRange])) == #""kept \u00e9""#)
    #expect(unknown.key == "unknownField")
    #expect(layout.member(named: "tools") == nil)
  }

  @Test func rewritesSystemInstructionUnderTheClientsSpelling() throws {
    let bytes = Array(body.utf8)
    let edit = JSONPatch.MemberEdit(keys: JSONPatch.systemInstructionKeys) { old in
      #expect(old?["parts"]?["text"] == "old")
      return .object([JSONMember("parts", [.object([JSONMember("text", "new")])])])
    }
    let patched = try JSONPatch.apply([edit], to: bytes)
    let expected = body.replacing(
      #""system_instruction":{"parts":{"text":"old"}}"#, with: #""system_instruction":{"parts":[{"text":"new"}]}"#)
    #expect(text(patched) == expected)
    #expect(!text(patched).contains("systemInstruction"))
  }

  @Test func insertsAndRemovesMembers() throws {
    let bytes = Array(#"{"contents":[],"generationConfig":{"topK":40.0}}"#.utf8)
    let inserted = try JSONPatch.apply(
      [.set(["systemInstruction", "system_instruction"], to: .object([JSONMember("parts", [])]))], to: bytes)
    #expect(text(inserted) == #"{"contents":[],"generationConfig":{"topK":40.0},"systemInstruction":{"parts":[]}}"#)
    let removedLast = try JSONPatch.apply([.remove(["generationConfig", "generation_config"])], to: bytes)
    #expect(text(removedLast) == #"{"contents":[]}"#)
    let removedFirst = try JSONPatch.apply([.remove(["contents"])], to: bytes)
    #expect(text(removedFirst) == #"{"generationConfig":{"topK":40.0}}"#)
    let three = Array(#"{"a":1, "b":2, "c":3}"#.utf8)
    #expect(text(try JSONPatch.apply([.remove(["b"])], to: three)) == #"{"a":1, "c":3}"#)
    let only = Array(#"{ "a" : 1 }"#.utf8)
    #expect(text(try JSONPatch.apply([.remove(["a"])], to: only)) == "{  }")
    let empty = Array(" {} ".utf8)
    #expect(text(try JSONPatch.apply([.set(["a"], to: 1)], to: empty)) == #" {"a":1} "#)
    // Removing an absent member changes nothing.
    #expect(try JSONPatch.apply([.remove(["zzz"])], to: bytes) == bytes)
  }

  @Test func editsGenerationConfigKeepingOtherBytes() throws {
    let bytes = Array(body.utf8)
    let edit = JSONPatch.MemberEdit(keys: JSONPatch.generationConfigKeys) { old in
      guard case .object(var members) = old ?? .object([]) else { return old }
      members.removeAll { $0.key == "topK" }
      members.append(JSONMember("maxOutputTokens", 100))
      return .object(members)
    }
    let patched = text(try JSONPatch.apply([edit], to: bytes))
    #expect(
      patched.hasPrefix(
        #"{ "contents" : [{"parts":[{"text":"hi"}]}],"system_instruction":{"parts":{"text":"old"}} , "generationConfig": "#
      ))
    #expect(patched.hasSuffix(#", "unknownField": "kept \u00e9" }"#))
    #expect(patched.contains(#""generationConfig": {"temperature":1.0,"maxOutputTokens":100}"#))
  }

  @Test func rejectsNonObjectsAndBrokenDocuments() {
    #expect(throws: JSONParseError.self) { try JSONPatch.layout(of: Array("[1]".utf8)) }
    #expect(throws: JSONParseError.self) { try JSONPatch.layout(of: Array(#"{"a":[1,}"#.utf8)) }
    #expect(throws: JSONParseError.self) { try JSONPatch.layout(of: Array(#"{"a":1} x"#.utf8)) }
    #expect(throws: JSONParseError.self) { try JSONPatch.layout(of: Array(#"{"a":"\u00"}"#.utf8)) }
  }
}
