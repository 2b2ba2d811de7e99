import Foundation
import Testing

@testable import RouteSpec

/// Runs the whole toml-test corpus (`Tests/toml-test`, MIT, see its README) in-process, with toml-test's comparison rules.
@Suite struct TOMLComplianceTests {
  /// `Tests/toml-test` in this repository, beside this file's folder.
  static var corpus: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("toml-test")
  }

  static func cases(_ kind: String) -> [URL] {
    let root = corpus.appendingPathComponent(kind)
    guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
    var found: [URL] = []
    for case let url as URL in walker where url.pathExtension == "toml" { found.append(url) }
    return found.sorted { $0.path < $1.path }
  }

  static func parse(_ url: URL) throws -> TOMLTable {
    let data = try Data(contentsOf: url)
    return try TOMLParser.parse(SourceFile(id: FileID(0), path: url.path, bytes: [UInt8](data)))
  }

  @Test func corpusIsPresent() {
    // A missing corpus must fail the run rather than pass an empty loop.
    #expect(Self.cases("valid").count == 210)
    #expect(Self.cases("invalid").count == 499)
  }

  @Test func validCasesDecodeToTheExpectedJSON() throws {
    let cases = Self.cases("valid")
    #expect(!cases.isEmpty)
    var failures: [String] = []
    for url in cases {
      let name = url.path.replacingOccurrences(of: Self.corpus.path + "/", with: "")
      let table: TOMLTable
      do {
        table = try Self.parse(url)
      } catch let error as TOMLError {
        failures.append("\(name): rejected: \(error.message)")
        continue
      }
      let expectedURL = url.deletingPathExtension().appendingPathExtension("json")
      let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: expectedURL), options: [.fragmentsAllowed])
      if !Self.same(expected, TOMLTaggedJSON.encode(table)) { failures.append("\(name): decoded value differs") }
    }
    #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.joined(separator: "\n"))")
  }

  @Test func invalidCasesAreRejected() throws {
    let cases = Self.cases("invalid")
    #expect(!cases.isEmpty)
    var accepted: [String] = []
    for url in cases {
      if (try? Self.parse(url)) != nil { accepted.append(url.lastPathComponent) }
    }
    #expect(accepted.isEmpty, "accepted invalid TOML: \(accepted.joined(separator: ", "))")
  }

  // MARK: toml-test's comparison

  static func same(_ want: Any, _ got: JSONValue) -> Bool {
    if let object = want as? [String: Any] {
      if object.count == 2, let type = object["type"] as? String, let value = object["value"] as? String {
        guard case .string(let gotType)? = got["type"], case .string(let gotValue)? = got["value"],
          gotType == type, got.objectValue?.count == 2
        else { return false }
        return sameScalar(type: type, value, gotValue)
      }
      guard let members = got.objectValue, members.count == object.count else { return false }
      return members.allSatisfy { member in object[member.key].map { same($0, member.value) } ?? false }
    }
    if let array = want as? [Any] {
      guard let elements = got.arrayValue, elements.count == array.count else { return false }
      return zip(array, elements).allSatisfy { same($0, $1) }
    }
    return false
  }

  static func sameScalar(type: String, _ want: String, _ got: String) -> Bool {
    switch type {
    case "integer":
      return Int64(want) != nil && Int64(want) == Int64(got)
    case "float":
      guard let lhs = double(want), let rhs = double(got) else { return false }
      return lhs.isNaN ? rhs.isNaN : lhs == rhs
    case "datetime", "datetime-local", "date-local", "time-local":
      guard let lhs = instant(want), let rhs = instant(got) else { return false }
      return lhs == rhs
    case "bool":
      return want.lowercased() == got.lowercased()
    default:
      return want == got
    }
  }

  static func double(_ text: String) -> Double? {
    let cleaned = text.replacingOccurrences(of: "_", with: "")
    switch cleaned {
    case "inf", "+inf": return .infinity
    case "-inf": return -.infinity
    case "nan", "+nan", "-nan": return .nan
    default: return Double(cleaned)
    }
  }

  /// A date-time reduced to one comparable value: offset ones to UTC, all to nanoseconds.
  static func instant(_ text: String) -> [Int]? {
    guard let table = try? TOMLParser.parse(SourceFile(id: FileID(0), path: "x", text: "v = \(text)")),
      case .dateTime(let value)? = table["v"]?.kind
    else { return nil }
    let days = daysFromCivil(value.year, value.month, value.day)
    let seconds =
      days * 86_400 + value.hour * 3_600 + value.minute * 60 + value.second
      - (value.offsetMinutes ?? 0) * 60
    return [value.offsetMinutes == nil ? 0 : 1, seconds, value.nanosecond]
  }

  static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
    let shifted = month <= 2 ? year - 1 : year
    let era = (shifted >= 0 ? shifted : shifted - 399) / 400
    let yearOfEra = shifted - era * 400
    let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra
  }
}
