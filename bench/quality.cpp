// Quality benchmark: test AUC and log-loss of the DLRM example (examples/dlrm/) after one epoch
// of SGD with every compression method at every compression ratio, on generated Criteo-shaped
// data, once stationary and once with popularity drift. Writes bench/QUALITY.md (a table per
// scenario, the command, the machine, the date) and bench/quality.svg (AUC against compression,
// one line per method).
//
// Runs may be done in pieces: every finished run is appended to the results CSV at once, and
// QUALITY.md / quality.svg are drawn from all rows of that file (the last row of a scenario,
// method and ratio wins). `--render-only` redraws them without training.
//
//   quality                                       # everything (see bench/quality.sh)
//   quality --scenarios drift --methods cafe,hash --ratios 100,1000
//   quality --render-only
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "dlrm/trainer.hpp"

namespace {

using namespace embtab_dlrm;

struct config {
    std::vector<std::string> scenarios = {"stationary", "drift"};
    std::vector<std::string> methods;  // empty: all
    std::vector<double> ratios = {10, 100, 1000, 10000};
    double scale = 0.05;
    std::uint64_t train = 4'000'000;
    std::uint64_t test = 500'000;
    std::size_t dim = 16;
    std::size_t batch = 256;
    float lr = 0.2f;
    float table_lr = 5.0f;
    std::size_t phases = 4;
    std::vector<std::uint64_t> seeds = {1};
    unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
    std::string results = "bench/quality_results.csv";
    std::string md = "bench/QUALITY.md";
    std::string svg = "bench/quality.svg";
    bool render_only = false;
    bool quiet = false;
    std::string command;
};

void usage() {
    std::cout <<
        "quality: DLRM test AUC per (scenario, method, compression ratio), one epoch of SGD each.\n\n"
        "  --scenarios a,b   stationary and/or drift (default both)\n"
        "  --methods a,b     methods (default all; see train_dlrm --help)\n"
        "  --ratios r,s      compression ratios (default 10,100,1000,10000; full/fp16/int8 run\n"
        "                    once at their own ratio)\n"
        "  --scale S         ids = Criteo Kaggle's 33.8M x S (default 0.05: 1.69M ids)\n"
        "  --train N         training samples (default 4000000)\n"
        "  --test N          test samples (default 500000)\n"
        "  --dim D --batch B --lr X --table-lr X   as train_dlrm (16, 256, 0.2, 5)\n"
        "  --seeds a,b,c     seeds (default 1): each draws its own data, initialisation and\n"
        "                    hashes; the report gives mean ± standard deviation over them\n"
        "  --phases P        drift scenario: phases of popularity (default 4); test = last phase\n"
        "  --jobs J          runs at once (default: the cores)\n"
        "  --results FILE    CSV every finished run is appended to (default "
        "bench/quality_results.csv)\n"
        "  --md FILE         report (default bench/QUALITY.md)\n"
        "  --svg FILE        plot (default bench/quality.svg)\n"
        "  --render-only     redraw the report and plot from the CSV, train nothing\n"
        "  --quiet           no progress on stderr\n";
}

config parse(int argc, char** argv) {
    config c;
    c.command = "quality";
    for (int i = 1; i < argc; ++i) c.command += std::string(" ") + argv[i];
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            usage();
            std::exit(0);
        }
        if (a == "--render-only") { c.render_only = true; continue; }
        if (a == "--quiet") { c.quiet = true; continue; }
        if (i + 1 >= argc) throw std::invalid_argument("option " + a + " needs a value");
        const std::string v = argv[++i];
        const auto number = [&] { return parse_numbers(v, a.c_str()).at(0); };
        const auto count = [&] {
            const double x = number();
            if (!(x >= 1) || x != std::floor(x))
                throw std::invalid_argument(a + ": '" + v + "' is not a positive integer");
            return static_cast<std::uint64_t>(x);
        };
        if (a == "--scenarios") c.scenarios = split_list(v);
        else if (a == "--methods") c.methods = split_list(v);
        else if (a == "--ratios") c.ratios = parse_numbers(v, "--ratios");
        else if (a == "--scale") c.scale = number();
        else if (a == "--train") c.train = count();
        else if (a == "--test") c.test = count();
        else if (a == "--dim") c.dim = count();
        else if (a == "--batch") c.batch = count();
        else if (a == "--lr") c.lr = static_cast<float>(number());
        else if (a == "--table-lr") c.table_lr = static_cast<float>(number());
        else if (a == "--phases") c.phases = count();
        else if (a == "--seed") c.seeds = {count()};
        else if (a == "--seeds") {
            c.seeds.clear();
            for (double x : parse_numbers(v, "--seeds")) {
                if (!(x >= 0) || x != std::floor(x))
                    throw std::invalid_argument("--seeds: '" + v + "' is not a list of integers");
                c.seeds.push_back(static_cast<std::uint64_t>(x));
            }
            if (c.seeds.empty()) throw std::invalid_argument("--seeds: no seed given");
        }
        else if (a == "--jobs") c.jobs = static_cast<unsigned>(count());
        else if (a == "--results") c.results = v;
        else if (a == "--md") c.md = v;
        else if (a == "--svg") c.svg = v;
        else throw std::invalid_argument("unknown option " + a + " (see --help)");
    }
    if (c.methods.empty())
        for (const method_info& m : all_methods()) c.methods.push_back(m.name);
    for (const std::string& m : c.methods) find_method(m);
    for (const std::string& s : c.scenarios)
        if (s != "stationary" && s != "drift")
            throw std::invalid_argument("--scenarios: '" + s + "' is not stationary or drift");
    for (double r : c.ratios)
        if (!(r >= 1)) throw std::invalid_argument("--ratios: values must be >= 1");
    if (!(c.scale > 0 && c.scale <= 100)) throw std::invalid_argument("--scale must be in (0, 100]");
    if (c.phases < 2) throw std::invalid_argument("--phases must be at least 2");
    return c;
}

// --- the results file --------------------------------------------------------------------------

/// One CSV line split into fields (double quotes group, "" is a quote).
std::vector<std::string> split_csv(const std::string& line) {
    std::vector<std::string> out(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char ch = line[i];
        if (quoted) {
            if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') out.back() += '"', ++i;
            else if (ch == '"') quoted = false;
            else out.back() += ch;
        } else if (ch == '"') quoted = true;
        else if (ch == ',') out.emplace_back();
        else out.back() += ch;
    }
    return out;
}

std::string quote(const std::string& s) {
    std::string out = "\"";
    for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return out + "\"";
}

/// A row of the results file: a run, or a scenario's description (method "(scenario)").
struct row {
    std::string scenario, method;
    double ratio = 0, achieved = 0, bytes = 0, auc = NAN, log_loss = NAN, samples_per_s = 0;
    double table_lr = NAN;  // rate the table trained with
    std::uint64_t seed = 1;
    std::string note;
    bool ok = false;
};

double to_number(const std::string& s) {
    if (s.empty()) return NAN;
    try {
        return std::stod(s);
    } catch (const std::exception&) {
        return NAN;
    }
}

/// Every row of the file, the last one of each (scenario, method, ratio).
std::vector<row> read_results(const std::string& path) {
    std::ifstream f(path);
    std::map<std::tuple<std::string, std::string, double, std::uint64_t>, std::size_t> index;
    std::vector<row> rows;
    std::string line;
    while (std::getline(f, line)) {
        const auto v = split_csv(line);
        if (v.size() < 14 || v[0] == "scenario") continue;
        row r;
        r.scenario = v[0];
        r.method = v[1];
        r.ratio = to_number(v[2]);
        r.achieved = to_number(v[3]);
        r.bytes = to_number(v[4]);
        r.auc = to_number(v[8]);
        r.log_loss = to_number(v[9]);
        r.samples_per_s = to_number(v[11]);
        r.note = v[13];
        r.table_lr = v.size() > 14 ? to_number(v[14]) : NAN;
        r.seed = v.size() > 15 && !v[15].empty() ? static_cast<std::uint64_t>(to_number(v[15])) : 1;
        r.ok = !std::isnan(r.auc);
        const auto key = std::make_tuple(r.scenario, r.method,
                                         r.method == "(scenario)" ? 0.0 : r.ratio, r.seed);
        if (auto it = index.find(key); it != index.end()) rows[it->second] = r;
        else {
            index.emplace(key, rows.size());
            rows.push_back(r);
        }
    }
    return rows;
}

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
    return buf;
}

std::string machine() {
    std::ifstream f("/proc/cpuinfo");
    std::string line, model = "unknown CPU";
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0) {
            model = line.substr(line.find(':') + 2);
            break;
        }
    return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " hardware threads";
}

// --- the report --------------------------------------------------------------------------------

std::string fixed(double x, int digits) {
    if (std::isnan(x)) return "n/a";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", digits, x);
    return buf;
}

int method_rank(const std::string& m) {
    const auto& all = all_methods();
    for (std::size_t i = 0; i < all.size(); ++i)
        if (m == all[i].name) return static_cast<int>(i);
    return static_cast<int>(all.size());
}

/// The runs of one (scenario, method, ratio) over its seeds.
struct cell {
    std::string scenario, method;
    double ratio = 0;
    std::map<std::uint64_t, row> by_seed;  // seed → run

    /// The finished runs' values of `field`.
    template <class F>
    std::vector<double> values(F field) const {
        std::vector<double> v;
        for (const auto& [seed, r] : by_seed)
            if (r.ok) v.push_back(field(r));
        return v;
    }
    /// The first run's note (why a cell is n/a).
    std::string note() const { return by_seed.empty() ? "" : by_seed.begin()->second.note; }
};

double mean(const std::vector<double>& v) {
    if (v.empty()) return NAN;
    double s = 0;
    for (double x : v) s += x;
    return s / double(v.size());
}

/// Sample standard deviation (0 for fewer than 2 values).
double stdev(const std::vector<double>& v) {
    if (v.size() < 2) return 0;
    const double m = mean(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / double(v.size() - 1));
}

/// "0.7253 ± 0.0004" (the ± part only with several seeds).
std::string mean_sd(const std::vector<double>& v, int digits = 4) {
    if (v.empty()) return "n/a";
    std::string out = fixed(mean(v), digits);
    if (v.size() > 1) out += " ± " + fixed(stdev(v), digits);
    return out;
}

/// The cells of `rows` (runs only), in report order.
std::vector<cell> cells_of(const std::vector<row>& rows) {
    std::map<std::tuple<std::string, int, double, std::string>, cell> m;
    for (const row& r : rows) {
        if (r.method == "(scenario)") continue;
        cell& c = m[std::make_tuple(r.scenario, method_rank(r.method), r.ratio, r.method)];
        c.scenario = r.scenario;
        c.method = r.method;
        c.ratio = r.ratio;
        c.by_seed[r.seed] = r;
    }
    std::vector<cell> out;
    for (auto& [key, c] : m) out.push_back(std::move(c));
    return out;
}

/// Paired differences `a − b` of AUC over the seeds both finished.
std::vector<double> paired(const cell& a, const cell& b) {
    std::vector<double> d;
    for (const auto& [seed, ra] : a.by_seed) {
        const auto it = b.by_seed.find(seed);
        if (ra.ok && it != b.by_seed.end() && it->second.ok) d.push_back(ra.auc - it->second.auc);
    }
    return d;
}

/// "+0.0012 ± 0.0003 ✓": the mean paired difference, its spread, and whether it is called
/// (|mean| above the spread, with at least 2 seeds): ✓ above, ✗ below, ≈ not called.
std::string difference(const std::vector<double>& d) {
    if (d.empty()) return "";
    const double m = mean(d), sd = stdev(d);
    std::string out = (m >= 0 ? "+" : "") + fixed(m, 4);
    if (d.size() > 1) out += " ± " + fixed(sd, 4);
    out += d.size() < 2 || std::fabs(m) <= sd ? " ≈" : m > 0 ? " ✓" : " ✗";
    return out;
}

void write_markdown(const std::string& path, const std::vector<row>& rows,
                    const std::vector<std::string>& scenarios) {
    std::ofstream md(path);
    md << "# DLRM quality by compression method\n\n"
          "Test AUC and log-loss of the DLRM application (`examples/dlrm/`: bottom MLP 13-64-d, dot\n"
          "interaction, top MLP to one logit) after **one epoch of SGD** with each embedding table\n"
          "of embtab, at compression ratios of the fp32 full table (budget = n·d·4 / ratio, rows +\n"
          "optimizer state + sketches/maps, as `memory_bytes().total()` counts). `full`, `fp16` and\n"
          "`int8` have the ratio of their storage. *n/a*: the method cannot be built in that budget\n"
          "(its planner says so). *optimum*: the generator's hidden model scoring the test set with\n"
          "the true click probabilities. Each cell is the mean ± standard deviation over the seeds\n"
          "(each seed draws its own data, initialisation and hashes). Differences are paired by\n"
          "seed and *called* only when their mean is larger than their standard deviation:\n"
          "✓ (better), ✗ (worse); ≈ is not called. Generated by `bench/quality.cpp`\n"
          "(`bash bench/quality.sh`); the plot (`quality.svg`) shows the means.\n\n"
          "![AUC against compression](quality.svg)\n";
    const std::vector<cell> cells = cells_of(rows);
    const auto find_cell = [&](const std::string& sc, const std::string& m, double q) -> const cell* {
        for (const cell& c : cells)
            if (c.scenario == sc && c.method == m && (find_method(m).fixed_ratio || c.ratio == q))
                return &c;
        return nullptr;
    };
    for (const std::string& sc : scenarios) {
        std::vector<const row*> metas;
        for (const row& r : rows)
            if (r.scenario == sc && r.method == "(scenario)") metas.push_back(&r);
        std::vector<const cell*> runs;
        for (const cell& c : cells)
            if (c.scenario == sc) runs.push_back(&c);
        if (runs.empty()) continue;
        md << "\n## " << sc << "\n\n";
        if (!metas.empty()) {
            std::vector<double> optimum;
            std::string seeds;
            for (const row* m : metas) {
                optimum.push_back(m->auc);
                seeds += (seeds.empty() ? "" : ", ") + std::to_string(m->seed);
            }
            // the note names the command of the newest runs; pieces may have appended others
            std::string note = metas.front()->note;
            const std::string command = "Command: `";
            if (const auto at = note.find(command); at != std::string::npos)
                note.replace(at, command.size(),
                             "Command of the newest runs (the tables combine every run in the "
                             "results file, which pieces of a preset append to): `");
            md << note << "\n\nSeeds: " << seeds << ". Optimum AUC "
               << mean_sd(optimum) << ".\n\n";
        }
        std::set<double> ratios;
        for (const cell* c : runs)
            if (!find_method(c->method).fixed_ratio) ratios.insert(c->ratio);
        const auto cell_text = [](const cell& c) {
            const auto auc = c.values([](const row& r) { return r.auc; });
            if (!auc.empty()) return mean_sd(auc);
            return c.note().rfind("training diverged", 0) == 0 ? std::string("diverged")
                                                                : std::string("n/a");
        };
        md << "| AUC | own ratio |";
        for (double q : ratios) md << " " << format_ratio(q) << " |";
        md << "\n|---|---|";
        for (std::size_t i = 0; i < ratios.size(); ++i) md << "---|";
        md << "\n";
        std::vector<std::string> seen;
        for (const cell* c : runs) {
            if (std::find(seen.begin(), seen.end(), c->method) != seen.end()) continue;
            seen.push_back(c->method);
            const bool fixed_ratio = find_method(c->method).fixed_ratio;
            md << "| " << c->method << " | " << (fixed_ratio ? cell_text(*c) : "") << " |";
            for (double q : ratios) {
                const cell* x = fixed_ratio ? nullptr : find_cell(sc, c->method, q);
                md << " " << (x ? cell_text(*x) : "") << " |";
            }
            md << "\n";
        }
        // paired differences: every method against hash; CAFE against the baselines
        const auto diff_table = [&](const std::string& title, const std::vector<std::string>& as,
                                    const std::vector<std::string>& bs) {
            std::string body;
            for (const std::string& a : as)
                for (const std::string& b : bs) {
                    if (a == b) continue;
                    std::string line = "| " + a + " − " + b + " |";
                    bool any = false;
                    for (double q : ratios) {
                        const cell* x = find_cell(sc, a, q);
                        const cell* y = find_cell(sc, b, q);
                        const std::string d = x && y ? difference(paired(*x, *y)) : "";
                        any = any || !d.empty();
                        line += " " + d + " |";
                    }
                    if (any) body += line + "\n";
                }
            if (body.empty()) return;
            md << "\n" << title << "\n\n| Δ AUC |";
            for (double q : ratios) md << " " << format_ratio(q) << " |";
            md << "\n|---|";
            for (std::size_t i = 0; i < ratios.size(); ++i) md << "---|";
            md << "\n" << body;
        };
        std::vector<std::string> others, cafes;
        for (const std::string& m : seen) {
            if (m != "hash" && !find_method(m).fixed_ratio) others.push_back(m);
            if (m.rfind("cafe", 0) == 0) cafes.push_back(m);
        }
        diff_table("Against the hashing trick (paired by seed):", others, {"hash"});
        diff_table("CAFE against the other baselines and the offline oracle (`freqsplit`):", cafes,
                   {"multihash", "hash_perfield", "freqsplit"});
        md << "\n| method | ratio asked | ratio | bytes | AUC | log-loss | samples/s | seeds |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|\n";
        for (const cell* c : runs) {
            const auto auc = c->values([](const row& r) { return r.auc; });
            md << "| " << c->method << " | " << format_ratio(c->ratio) << " | ";
            if (auc.empty()) {
                md << "n/a | n/a | " << cell_text(*c) << " | n/a | n/a | " << c->by_seed.size()
                   << " |\n";
                continue;
            }
            md << format_ratio(mean(c->values([](const row& r) { return r.achieved; }))) << " | "
               << format_bytes(mean(c->values([](const row& r) { return r.bytes; }))) << " | "
               << mean_sd(auc) << " | "
               << fixed(mean(c->values([](const row& r) { return r.log_loss; })), 4) << " | "
               << progress::si(mean(c->values([](const row& r) { return r.samples_per_s; })))
               << " | " << auc.size() << " |\n";
        }
        std::string why;
        for (const cell* c : runs)
            if (c->values([](const row& r) { return r.auc; }).empty() && !c->note().empty())
                why += "- " + c->method + " " + format_ratio(c->ratio) + ": " + c->note() + "\n";
        if (!why.empty()) md << "\nWhy cells are n/a:\n\n" << why;
    }
}

/// One row a cell (and a scenario), holding the means over seeds: what the plot draws.
std::vector<row> means_of(const std::vector<row>& rows) {
    std::vector<row> out;
    for (const cell& c : cells_of(rows)) {
        row r = c.by_seed.begin()->second;
        const auto auc = c.values([](const row& x) { return x.auc; });
        r.ok = !auc.empty();
        r.auc = mean(auc);
        r.achieved = mean(c.values([](const row& x) { return x.achieved; }));
        out.push_back(r);
    }
    std::map<std::string, std::vector<double>> optimum;
    for (const row& r : rows)
        if (r.method == "(scenario)") optimum[r.scenario].push_back(r.auc);
    for (const auto& [sc, v] : optimum) {
        row r;
        r.scenario = sc;
        r.method = "(scenario)";
        r.auc = mean(v);
        out.push_back(r);
    }
    return out;
}

void write_svg(const std::string& path, const std::vector<row>& rows,
               const std::vector<std::string>& scenarios) {
    static const char* colors[] = {"#000000", "#7f7f7f", "#bcbd22", "#1f77b4", "#17becf", "#9467bd",
                                   "#8c564b", "#2ca02c", "#d62728", "#ff7f0e", "#e377c2", "#393b79",
                                   "#ad494a", "#637939", "#7b4173"};
    const double panel_w = 420, panel_h = 300, left = 60, top = 40, gap = 70, legend_w = 130;
    const double width = left + scenarios.size() * (panel_w + gap) + legend_w, height = top + panel_h + 60;
    std::ostringstream s;
    s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" "
         "fill=\"white\"/>\n";
    // one y range for all panels
    double lo = 1, hi = 0, max_ratio = 10;
    for (const row& r : rows)
        if (r.ok || r.method == "(scenario)") {
            if (std::isnan(r.auc)) continue;
            lo = std::min(lo, r.auc);
            hi = std::max(hi, r.auc);
            if (r.ok) max_ratio = std::max(max_ratio, r.achieved);
        }
    if (hi <= lo) lo = 0.5, hi = 0.8;
    const double pad = 0.05 * (hi - lo);
    lo -= pad, hi += pad;
    const double x_max = std::max(1.0, std::ceil(std::log10(max_ratio) - 0.02));  // 10048x: 10^4
    for (std::size_t p = 0; p < scenarios.size(); ++p) {
        const double x0 = left + p * (panel_w + gap), y0 = top;
        const auto X = [&](double ratio) { return x0 + panel_w * std::log10(std::max(ratio, 1.0)) / x_max; };
        const auto Y = [&](double auc) { return y0 + panel_h * (hi - auc) / (hi - lo); };
        s << "<text x=\"" << x0 + panel_w / 2 << "\" y=\"" << y0 - 12
          << "\" text-anchor=\"middle\" font-size=\"14\">" << scenarios[p] << "</text>\n";
        s << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << panel_w << "\" height=\""
          << panel_h << "\" fill=\"none\" stroke=\"#444\"/>\n";
        for (int e = 0; e <= static_cast<int>(x_max); ++e) {
            const double x = X(std::pow(10.0, e));
            s << "<line x1=\"" << x << "\" y1=\"" << y0 << "\" x2=\"" << x << "\" y2=\"" << y0 + panel_h
              << "\" stroke=\"#ddd\"/><text x=\"" << x << "\" y=\"" << y0 + panel_h + 16
              << "\" text-anchor=\"middle\">" << static_cast<long long>(std::pow(10.0, e))
              << "x</text>\n";
        }
        const double step = (hi - lo) > 0.08 ? 0.02 : (hi - lo) > 0.03 ? 0.01 : 0.005;
        for (double a = std::ceil(lo / step) * step; a <= hi; a += step) {
            s << "<line x1=\"" << x0 << "\" y1=\"" << Y(a) << "\" x2=\"" << x0 + panel_w << "\" y2=\""
              << Y(a) << "\" stroke=\"#eee\"/><text x=\"" << x0 - 6 << "\" y=\"" << Y(a) + 4
              << "\" text-anchor=\"end\">" << fixed(a, 3) << "</text>\n";
        }
        s << "<text x=\"" << x0 + panel_w / 2 << "\" y=\"" << y0 + panel_h + 36
          << "\" text-anchor=\"middle\">compression (fp32 full-table bytes / table bytes)</text>\n";
        if (p == 0)
            s << "<text transform=\"translate(" << x0 - 46 << "," << y0 + panel_h / 2
              << ") rotate(-90)\" text-anchor=\"middle\">test AUC</text>\n";
        for (const row& r : rows)
            if (r.scenario == scenarios[p] && r.method == "(scenario)" && !std::isnan(r.auc))
                s << "<line x1=\"" << x0 << "\" y1=\"" << Y(r.auc) << "\" x2=\"" << x0 + panel_w
                  << "\" y2=\"" << Y(r.auc) << "\" stroke=\"#999\" stroke-dasharray=\"5,4\"/><text x=\""
                  << x0 + panel_w - 4 << "\" y=\"" << Y(r.auc) - 5
                  << "\" text-anchor=\"end\" fill=\"#777\">optimum " << fixed(r.auc, 4) << "</text>\n";
        for (std::size_t m = 0; m < all_methods().size(); ++m) {
            std::vector<std::pair<double, double>> pts;
            for (const row& r : rows)
                if (r.scenario == scenarios[p] && r.method == all_methods()[m].name && r.ok)
                    pts.emplace_back(r.achieved, r.auc);
            std::sort(pts.begin(), pts.end());
            if (pts.empty()) continue;
            const char* color = colors[m % (sizeof colors / sizeof *colors)];
            if (pts.size() > 1) {
                s << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
                for (const auto& [x, y] : pts) s << X(x) << "," << Y(y) << " ";
                s << "\"/>\n";
            }
            for (const auto& [x, y] : pts)
                s << "<circle cx=\"" << X(x) << "\" cy=\"" << Y(y) << "\" r=\"3\" fill=\"" << color
                  << "\"><title>" << all_methods()[m].name << " " << format_ratio(x) << ": AUC "
                  << fixed(y, 4) << "</title></circle>\n";
        }
    }
    const double lx = left + scenarios.size() * (panel_w + gap) - gap + 20;
    for (std::size_t m = 0; m < all_methods().size(); ++m) {
        const double y = top + 10 + 18.0 * static_cast<double>(m);
        s << "<line x1=\"" << lx << "\" y1=\"" << y << "\" x2=\"" << lx + 20 << "\" y2=\"" << y
          << "\" stroke=\"" << colors[m % (sizeof colors / sizeof *colors)]
          << "\" stroke-width=\"2\"/><text x=\"" << lx + 26 << "\" y=\"" << y + 4 << "\">"
          << all_methods()[m].name << "</text>\n";
    }
    s << "</svg>\n";
    std::ofstream(path) << s.str();
}

void render(const config& c) {
    const std::vector<row> rows = read_results(c.results);
    std::vector<std::string> scenarios;
    for (const char* sc : {"stationary", "drift"})
        for (const row& r : rows)
            if (r.scenario == sc) {
                scenarios.push_back(sc);
                break;
            }
    if (scenarios.empty()) throw std::runtime_error("no results in " + c.results);
    write_markdown(c.md, rows, scenarios);
    write_svg(c.svg, means_of(rows), scenarios);
    std::cerr << "wrote " << c.md << " and " << c.svg << " from " << c.results << "\n";
}

int run(const config& c) {
    if (c.render_only) {
        render(c);
        return 0;
    }
    {
        std::ifstream probe(c.results);
        if (!probe) std::ofstream(c.results) << csv_header() << ",seed\n";
    }
    for (const std::string& sc : c.scenarios)
        for (const std::uint64_t seed : c.seeds) {
            const bool drift = sc == "drift";
            if (!c.quiet) std::cerr << sc << ", seed " << seed << ": generating data...\n";
            const data_setup data =
                synthetic_setup(c.scale, c.train, c.test, drift ? c.phases : 1, seed);
            {
                std::ofstream out(c.results, std::ios::app);
                out << sc << ",(scenario),0,,,,,," << data.optimum_auc << ","
                    << data.optimum_log_loss << ",,,,"
                    << quote(data.description + ". Model: batch " + std::to_string(c.batch) +
                             ", d = " + std::to_string(c.dim) + ", SGD lr " + fixed(c.lr, 3) +
                             " (MLPs) / " + fixed(c.table_lr, 3) + " (tables). Command: `" +
                             c.command + "`. Run " + utc_now() + " on " + machine() + ".")
                    << "," << c.table_lr << "," << seed << "\n";
            }
            experiment ex;
            ex.train = &data.train;
            ex.test = &data.test;
            ex.field_sizes = data.field_sizes;
            ex.model.dim = c.dim;
            ex.model.seed = seed;
            ex.training.batch = c.batch;
            ex.training.lr = c.lr;
            ex.table_lr = c.table_lr;
            const auto jobs = make_jobs(c.methods, c.ratios, c.dim);
            progress report(jobs.size() * data.train.size, jobs.size(), !c.quiet, 5.0);
            const auto results = run_grid(jobs, ex, c.jobs, &report, [&](const run_result& r) {
                std::ofstream(c.results, std::ios::app) << csv_row(sc, r) << "," << seed << "\n";
                if (!c.quiet)
                    std::cerr << sc << " seed " << seed << " " << r.method << " "
                              << format_ratio(r.ratio) << ": "
                              << (r.ok() ? "AUC " + fixed(r.auc, 4) : std::string("n/a")) << "\n";
            });
            std::cout << "\n" << sc << ": " << data.description << "\n";
            print_results(std::cout, results, data.optimum_auc, data.optimum_log_loss, c.table_lr);
            render(c);  // the report so far, so that a long run can be read while it goes on
        }
    render(c);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse(argc, argv));
    } catch (const std::exception& e) {
        std::cerr << "quality: " << e.what() << "\n";
        return 1;
    }
}
