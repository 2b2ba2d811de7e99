import RouteSpec
import Testing

@testable import RouterRuntime

/// Answers put together at random from the pieces backends send, odd ones included (escapes, Unicode, DEL,
/// unknown and duplicated members, nulls and other types where strings go, tool calls, several choices, reasoning,
/// refusals, logprobs, numbers of every spelling, whitespace, broken JSON): what a client gets from an answer's
/// bytes is what the tree gives it, and what the byte reader reads is what the tree reader reads.
@Suite struct GeneratedAnswerTests {
  /// Builds one answer's text from a seeded generator.
  struct AnswerMaker {
    var random: SeededGenerator

    mutating func pick<T>(_ choices: [T]) -> T { choices[Int(random.next() % UInt64(choices.count))] }
    mutating func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }

    mutating func space() -> String { chance(10) ? pick([" ", "\n", "\t ", "\r\n  "]) : "" }

    mutating func string() -> String {
      let pieces = [
        "Hello", " world", "How can I help you today?", #"\n"#, #"\""#, #"\\"#, #"\/"#, #"\t"#, #"\u00e9"#,
        #"\u0041"#, #"\ud83d\ude00"#, #"\ud800"#, #"\u0000"#, #"\u007f"#, "é", "😀", "✓", "\u{7F}", "'", "<b>", "",
        "0123456789abcdef", "\u{2028}",
      ]
      var text = ""
      for _ in 0..<Int(random.next() % 4) { text += pick(pieces) }
      return "\"" + text + "\""
    }

    mutating func number() -> String {
      pick([
        "0", "-0", "1", "2", "-3", "9", "18", "2147483647", "2147483648", "123456789012345678", "1234567890123456789",
        "99999999999999999999", "1.5", "-2.5e3", "1e2", "1e400", "1e-400", "0.0", "-1",
      ])
    }

    mutating func scalar() -> String {
      switch random.next() % 6 {
      case 0: "null"
      case 1: pick(["true", "false"])
      case 2: number()
      default: string()
      }
    }

    mutating func value(depth: Int = 0) -> String {
      guard depth < 3, chance(30) else { return scalar() }
      if chance(50) {
        return "[" + (0..<Int(random.next() % 3)).map { _ in value(depth: depth + 1) }.joined(separator: ",") + "]"
      }
      return object(
        (0..<Int(random.next() % 3)).map { _ in (pick(["a", "role", "content", "x"]), value(depth: depth + 1)) })
    }

    /// An object of `members` in a shuffled order, some written twice, keys now and then escaped.
    mutating func object(_ members: [(String, String)]) -> String {
      var members = members
      members.shuffle(using: &random)
      if chance(8), let twice = members.first { members.append((twice.0, chance(50) ? twice.1 : scalar())) }
      // The first key's first letter escaped: the same name to the tree.
      if chance(5), let key = members.first?.0, let letter = key.utf8.first {
        members[0].0 = #"\u00"# + String(letter, radix: 16) + String(key.dropFirst())
      }
      let body = members.map { space() + "\"" + $0.0 + "\"" + space() + ":" + space() + $0.1 + space() }
      return "{" + body.joined(separator: ",") + "}"
    }

    /// Each member present with the given chance, with a value from its list or a stray one.
    mutating func members(_ candidates: [(name: String, percent: UInt64, value: () -> String)]) -> [(String, String)] {
      var members: [(String, String)] = []
      for candidate in candidates where chance(candidate.percent) {
        members.append((candidate.name, chance(8) ? value() : candidate.value()))
      }
      return members
    }

    mutating func message() -> String {
      if chance(3) { return scalar() }
      let content = chance(80) ? string() : pick(["null", "7", #"[{"type":"text","text":"a"}]"#, "{}"])
      let refusal = pick(["null", #""""#, #""no""#])
      let tools = pick(["null", "[]", "7", #"[{"id":"c","function":{"name":"f","arguments":"{}"}}]"#])
      let reasoning = pick(["null", #""""#, #""think""#, "7"])
      let other = pick(["null", #""""#, #""r""#])
      return object(
        members([
          ("role", 70, { #""assistant""# }), ("content", 90, { content }), ("refusal", 15, { refusal }),
          ("tool_calls", 10, { tools }), ("reasoning_content", 10, { reasoning }), ("reasoning", 10, { other }),
          ("annotations", 5, { "[]" }),
        ]))
    }

    mutating func choice(_ position: Int) -> String {
      if chance(3) { return scalar() }
      let index = chance(80) ? String(position) : number()
      let finish = pick([
        #""stop""#, #""length""#, #""tool_calls""#, #""function_call""#, #""content_filter""#, #""weird""#, "null",
        "7", #""st\u006fp""#, #""STOP""#, #""stop ""#,
      ])
      let logprobs = pick([
        "null", #"{"content":[]}"#, #"{"content":[{"token":"a","logprob":-0.5,"top_logprobs":[]}]}"#,
      ])
      let message = message()
      return object(
        members([
          ("index", 90, { index }), ("message", 95, { message }), ("finish_reason", 85, { finish }),
          ("logprobs", 20, { logprobs }),
        ]))
    }

    mutating func usage() -> String {
      if chance(5) { return scalar() }
      let counts = (0..<3).map { _ in number() }
      let details = chance(70) ? #"{"reasoning_tokens":\#(number())}"# : scalar()
      let cached = chance(70) ? #"{"cached_tokens":\#(number()),"audio_tokens":0}"# : scalar()
      return object(
        members([
          ("prompt_tokens", 90, { counts[0] }), ("completion_tokens", 90, { counts[1] }),
          ("total_tokens", 80, { counts[2] }), ("completion_tokens_details", 20, { details }),
          ("prompt_tokens_details", 20, { cached }),
        ]))
    }

    mutating func answer() -> [UInt8] {
      let choices =
        chance(95)
        ? "[" + (0..<Int(random.next() % 4)).map { choice($0) }.joined(separator: ",") + "]"
        : pick(["null", "{}", "7"])
      let usage = usage()
      let (id, model, kind, stray) = (
        chance(85) ? #""chatcmpl-\#(random.next() % 1000)""# : string(), chance(85) ? #""bench-model""# : scalar(),
        pick([#""chat.completion""#, #""error""#, "7"]), value()
      )
      var text = object(
        members([
          ("id", 90, { id }), ("object", 80, { kind }), ("created", 80, { "1733000000" }), ("model", 90, { model }),
          ("choices", 97, { choices }), ("usage", 70, { usage }), ("system_fingerprint", 20, { stray }),
          ("error", 2, { #"{"message":"boom"}"# }),
        ]))
      if chance(3) { text = String(text.dropLast(Int(random.next() % 5))) }
      if chance(2) { text += pick([" x", ",", "}"]) }
      var bytes = Array((space() + text + space()).utf8)
      // Now and then a byte that is not UTF-8, in whatever string or place it lands.
      if chance(2), !bytes.isEmpty { bytes[Int(random.next() % UInt64(bytes.count))] = 0xFF }
      return bytes
    }
  }

  @Test func generatedAnswersReadFromTheirBytesAreTheTreesAnswers() throws {
    var maker = AnswerMaker(random: SeededGenerator(state: 2026))
    var plain = 0
    var verbatim = 0
    for _ in 0..<3000 {
      let body = maker.answer()
      for options in awOptions {
        let outcome = AnswerWriterTests.AnswerOutcome(fromBytes: body, options: options)
        #expect(
          outcome == AnswerWriterTests.AnswerOutcome(viaTree: body, options: options),
          "\(String(decoding: body, as: UTF8.self)) \(options)")
        guard let read = PlainOpenAIAnswer(answer: body, options: options) else { continue }
        plain += 1
        if case .verbatim = read.candidates.first?.text { verbatim += 1 }
        #expect(read == PlainOpenAIAnswer(try JSONParser.parse(body), options: options))
      }
    }
    // Enough of them are plain, and their texts are copied as sent, for the byte reader to be what is tested.
    #expect(plain > 1000)
    #expect(verbatim > 150)
  }
}
