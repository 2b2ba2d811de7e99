// URLSession alone, without louter: the CPU time one process spends on a streamed https answer whose chunks come
// 2 s apart, first on a new connection, then on the same one. Tests/Bench/run compiles and runs it against its
// pacer behind TLS (README "https"):
//
//     swiftc -O Tests/Bench/urlsession-probe.swift -o /tmp/urlsession-probe
//     /tmp/urlsession-probe https://127.0.0.1:PORT/v1/chat/completions
//
// Prints one line: `first_ms=N second_ms=M bytes=B,B`.

import Foundation
import FoundationNetworking
import Glibc

/// Counts the bytes of one streamed answer and says when it has ended.
final class StreamCounter: NSObject, URLSessionDataDelegate, @unchecked Sendable {
  // Touched only on the session's delegate queue, and read after `ended` has been signalled.
  var bytes = 0
  var failure: (any Error)?
  let ended = DispatchSemaphore(value: 0)

  func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
    bytes += data.count
  }

  func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
    failure = error
    ended.signal()
  }
}

/// User and system CPU time of this process so far, in milliseconds.
func cpuMilliseconds() -> Int {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  let micros =
    (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + usage.ru_utime.tv_usec + usage.ru_stime.tv_usec
  return Int(micros / 1000)
}

guard CommandLine.arguments.count == 2, let url = URL(string: CommandLine.arguments[1]) else {
  print("usage: urlsession-probe https://HOST:PORT/v1/chat/completions")
  exit(2)
}
let counter = StreamCounter()
let session = URLSession(configuration: .ephemeral, delegate: counter, delegateQueue: nil)
var spent: [Int] = []
var sizes: [Int] = []
for _ in 0..<2 {
  var request = URLRequest(url: url)
  request.httpMethod = "POST"
  request.addValue("application/json", forHTTPHeaderField: "Content-Type")
  request.httpBody = Data(
    #"{"model":"https-pace-2000x2","stream":true,"messages":[{"role":"user","content":"hi"}]}"#.utf8)
  counter.bytes = 0
  let before = cpuMilliseconds()
  session.dataTask(with: request).resume()
  counter.ended.wait()
  if let failure = counter.failure {
    print("urlsession-probe: \(failure)")
    exit(1)
  }
  spent.append(cpuMilliseconds() - before)
  sizes.append(counter.bytes)
}
print("first_ms=\(spent[0]) second_ms=\(spent[1]) bytes=\(sizes.map(String.init).joined(separator: ","))")
