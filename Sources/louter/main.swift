import FoundationEssentials
import Glibc

// Exit codes follow sysexits(3): 0 ok, 1 invalid routes or failed command,
// 64 usage error, 74 I/O error.
exit(CommandLineInterface.run(Array(CommandLine.arguments.dropFirst())))
