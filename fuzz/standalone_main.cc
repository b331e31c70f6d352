// A libFuzzer-compatible driver for builds without libFuzzer (g++ CI): replays every file of
// the corpus directories given on the command line, then a bounded number of deterministic
// pseudo-random and mutated inputs (fixed seed, so a failure reproduces), and stops after
// --seconds. A crash or an exception escaping the target prints the input in hex and aborts.
//
// Usage: fuzz_<name> [--runs N] [--seconds S] [--seed N] <corpus dir or file>...
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// The input being run, for the crash report.
const std::string* g_current = nullptr;
const char* g_origin = "";

void DumpCurrent() {
  if (g_current == nullptr) return;
  std::fprintf(stderr, "\nfuzz input (%s, %zu bytes):\n", g_origin, g_current->size());
  for (size_t i = 0; i < g_current->size(); ++i) {
    std::fprintf(stderr, "\\x%02x", static_cast<unsigned char>((*g_current)[i]));
  }
  std::fprintf(stderr, "\n");
}

void OnSignal(int sig) {
  std::fprintf(stderr, "\nsignal %d while running a fuzz input", sig);
  DumpCurrent();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void Run(const std::string& input, const char* origin) {
  g_current = &input;
  g_origin = origin;
  // Copy into an exactly-sized heap buffer so an over-read is at least visible to ASan builds.
  std::vector<uint8_t> buf(input.begin(), input.end());
  try {
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nexception escaped the fuzz target: %s", e.what());
    DumpCurrent();
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "\nunknown exception escaped the fuzz target");
    DumpCurrent();
    std::abort();
  }
  g_current = nullptr;
}

// splitmix64: small, fast and the same everywhere.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(Next() % n); }
};

// Bytes that parsers care about: digits, signs, separators, escapes, UTF-8 lead bytes.
constexpr char kInteresting[] = "0123456789-+.:eE /@?&=%[]()',\\\t\n\r\x00\x7f\x80\xc3\xff";

std::string RandomInput(Rng& rng) {
  std::string s(rng.Below(64) + rng.Below(2) * rng.Below(512), '\0');
  const bool textual = rng.Below(2) == 0;
  for (char& c : s) {
    c = textual ? kInteresting[rng.Below(sizeof(kInteresting) - 1)]
                : static_cast<char>(rng.Next());
  }
  return s;
}

std::string Mutate(std::string s, const std::vector<std::string>& corpus, Rng& rng) {
  const int rounds = 1 + static_cast<int>(rng.Below(4));
  for (int r = 0; r < rounds; ++r) {
    switch (rng.Below(8)) {
      case 0:  // flip a bit
        if (!s.empty()) s[rng.Below(s.size())] ^= static_cast<char>(1u << rng.Below(8));
        break;
      case 1: {  // set a byte to an interesting value
        static constexpr unsigned char kValues[] = {0, 1, 0x7f, 0x80, 0xff, '0', '9', '-'};
        if (!s.empty()) s[rng.Below(s.size())] = static_cast<char>(kValues[rng.Below(8)]);
        break;
      }
      case 2:  // insert an interesting character
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(rng.Below(s.size() + 1)),
                 kInteresting[rng.Below(sizeof(kInteresting) - 1)]);
        break;
      case 3:  // erase a range
        if (!s.empty()) {
          const size_t at = rng.Below(s.size());
          s.erase(at, 1 + rng.Below(std::min<size_t>(8, s.size() - at)));
        }
        break;
      case 4:  // truncate
        s.resize(rng.Below(s.size() + 1));
        break;
      case 5:  // duplicate a range
        if (!s.empty() && s.size() < 4096) {
          const size_t at = rng.Below(s.size());
          const size_t n = 1 + rng.Below(std::min<size_t>(16, s.size() - at));
          s.insert(rng.Below(s.size() + 1), s.substr(at, n));
        }
        break;
      case 6:  // splice with another corpus entry
        if (!corpus.empty()) {
          const std::string& o = corpus[rng.Below(corpus.size())];
          s = s.substr(0, rng.Below(s.size() + 1)) + o.substr(rng.Below(o.size() + 1));
        }
        break;
      default:  // overwrite 2, 4 or 8 bytes with a random big-endian-ish integer
        if (s.size() >= 8) {
          const size_t n = size_t{2} << rng.Below(3);
          const size_t at = rng.Below(s.size() - n + 1);
          uint64_t v = rng.Below(4) == 0 ? ~uint64_t{0} >> rng.Below(64) : rng.Next();
          for (size_t i = 0; i < n; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
        }
        break;
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 20000;
  double seconds = 2.0;
  uint64_t seed = 20240601;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::atol(argv[++i]);
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::filesystem::is_directory(a)) {
      for (const auto& e : std::filesystem::directory_iterator(a)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else if (std::filesystem::is_regular_file(a)) {
      files.emplace_back(a);
    } else {
      std::fprintf(stderr, "%s: no such corpus file or directory\n", a.c_str());
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  for (int sig : {SIGSEGV, SIGABRT, SIGFPE, SIGBUS, SIGILL}) std::signal(sig, OnSignal);

  std::vector<std::string> corpus;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    const std::string origin = f.string();
    Run(corpus.back(), origin.c_str());
  }

  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(seconds));
  Rng rng{seed};
  long done = 0;
  for (; done < runs; ++done) {
    if (done % 64 == 0 && std::chrono::steady_clock::now() > deadline) break;
    std::string input = corpus.empty() || rng.Below(4) == 0
                            ? RandomInput(rng)
                            : Mutate(corpus[rng.Below(corpus.size())], corpus, rng);
    Run(input, "generated");
  }
  std::printf("ok: %zu corpus inputs, %ld generated inputs (seed %llu)\n", corpus.size(), done,
              static_cast<unsigned long long>(seed));
  return 0;
}
