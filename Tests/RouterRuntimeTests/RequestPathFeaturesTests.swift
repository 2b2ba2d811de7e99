import RouteSpec
import Testing

@testable import RouterRuntime

/// ``RequestFeatures/carriesImages(_:)`` reads each part's members in one pass; the oracle looks each media
/// spelling up by name, as the features were read before. Seeded bodies of every shape: both spellings, repeated
/// members, parts and contents that are single objects or not objects at all, MIME types near `image/`.
@Suite struct RequestPathFeaturesTests {
  static let mediaKeys = ["inlineData", "inline_data", "fileData", "file_data"]

  /// The parts of every content, each list read as the features read it (a single object is a list of one).
  static func parts(of body: JSONValue) -> [JSONValue] {
    func list(_ value: JSONValue?) -> [JSONValue] {
      switch value {
      case .array(let values)?: values
      case .object?: [value ?? .null]
      default: []
      }
    }
    return list(body["contents"]).flatMap { list($0["parts"]) }
  }

  static func oracle(_ body: JSONValue) -> Bool {
    parts(of: body).contains { part in
      mediaKeys.contains { key in
        let media = part[key]
        return ((media?["mimeType"] ?? media?["mime_type"])?.stringValue ?? "").hasPrefix("image/")
      }
    }
  }

  static func media(_ random: inout SeededGenerator) -> JSONValue {
    let mime: JSONValue =
      [
        "image/png", "image/", "text/plain", "Image/png", "image", "", 7, .null, "image/jpeg; q=1",
      ].randomElement(using: &random) ?? .null
    switch Int.random(in: 0..<5, using: &random) {
    case 0: return .object(["mimeType": mime, "data": "AAAA"])
    case 1: return .object(["mime_type": mime])
    case 2: return .object(["mimeType": "text/plain", "mime_type": mime])
    case 3: return .object(["data": "x"])
    default: return mime
    }
  }

  static func part(_ random: inout SeededGenerator) -> JSONValue {
    guard Int.random(in: 0..<8, using: &random) > 0 else { return ["text", "x", 1].randomElement(using: &random) ?? 1 }
    let names = mediaKeys + ["text", "fileDatum", "inlineDatA", "file_datA", "inline-data", "thought"]
    return .object(
      (0..<Int.random(in: 0...4, using: &random)).map { _ in
        JSONMember(names.randomElement(using: &random) ?? "", media(&random))
      })
  }

  static func body(_ random: inout SeededGenerator) -> JSONValue {
    func parts() -> JSONValue {
      switch Int.random(in: 0..<4, using: &random) {
      case 0: return part(&random)
      case 1: return "parts"
      default: return .array((0..<Int.random(in: 0...3, using: &random)).map { _ in part(&random) })
      }
    }
    func content() -> JSONValue {
      Int.random(in: 0..<8, using: &random) == 0 ? .null : .object(["role": "user", "parts": parts()])
    }
    switch Int.random(in: 0..<6, using: &random) {
    case 0: return .object(["contents": content()])
    case 1: return .object(["model": "m"])
    case 2: return .array([])
    default:
      return .object(["contents": .array((0..<Int.random(in: 0...3, using: &random)).map { _ in content() })])
    }
  }

  @Test func imagesAreFoundAsTheLookupsFindThem() {
    var random = SeededGenerator(state: 0x1A6E)
    var found = 0
    for _ in 0..<20_000 {
      let body = Self.body(&random)
      let expected = Self.oracle(body)
      #expect(RequestFeatures.carriesImages(body) == expected, "\(body.serialized())")
      if expected { found += 1 }
    }
    // Both answers were tried, in numbers.
    #expect(found > 800 && found < 19_000, "\(found)")
  }

  @Test func theFirstMemberOfEachSpellingCounts() throws {
    let first = try JSONParser.parse(
      #"{"contents":[{"parts":[{"inlineData":{"mimeType":"text/plain"},"inlineData":{"mimeType":"image/png"}}]}]}"#)
    #expect(!RequestFeatures.carriesImages(first))
    let other = try JSONParser.parse(
      #"{"contents":{"parts":{"inlineData":{"mimeType":"text/plain"},"file_data":{"mime_type":"image/png"}}}}"#)
    #expect(RequestFeatures.carriesImages(other))
  }
}
