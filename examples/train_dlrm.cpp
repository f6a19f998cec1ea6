// Train a DLRM-style click model with every compression method of embtab and compare test AUC,
// log-loss, memory and training speed — one epoch of SGD per (method, ratio), as in the CAFE
// paper. The model (examples/dlrm/) uses the table only through embtab's shared interface.
//
//   train_dlrm                                  # the demo: generated data, a few methods
//   train_dlrm --methods hash,cafe --ratios 100,1000 --train 1000000 --scale 0.05
//   train_dlrm --data train.txt --scale 1 --train 4000000 --test 500000   # real Criteo TSV
//   train_dlrm --help
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "dlrm/trainer.hpp"

namespace {

using namespace embtab_dlrm;

struct config {
    std::vector<std::string> methods = {"full", "int8", "hash", "multihash", "qr",
                                        "mde",  "freqsplit", "cafe"};
    std::vector<double> ratios = {10, 100, 1000};
    double scale = 0.01;
    std::uint64_t train = 500'000;
    std::uint64_t test = 100'000;
    std::size_t dim = 16;
    std::size_t batch = 256;
    float lr = 0.2f;
    float table_lr = 5.0f;
    std::size_t drift = 1;
    std::uint64_t seed = 1;
    unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
    std::string csv, json, data;
    bool quiet = false;
};

void usage(std::ostream& os) {
    const config c;
    os << "train_dlrm: one epoch of DLRM training per (method, compression ratio); test AUC,\n"
          "log-loss, table bytes and training samples/s on stdout.\n\n"
          "  --methods a,b,c   methods (default: ";
    for (std::size_t i = 0; i < c.methods.size(); ++i) os << (i ? "," : "") << c.methods[i];
    os << ")\n"
          "  --ratios r,s,...  compression ratios, fp32 full-table bytes / budget (default "
          "10,100,1000);\n"
          "                    full, fp16 and int8 run once at their own ratio\n"
          "  --scale S         ids = Criteo Kaggle's 33.8M x S (default 0.01)\n"
          "  --train N         training samples, one epoch (default 500000)\n"
          "  --test N          test samples (default 100000)\n"
          "  --dim D           embedding width (default 16)\n"
          "  --batch B         samples a step (default 256)\n"
          "  --lr X            SGD rate of the MLPs (default 0.2)\n"
          "  --table-lr X      SGD rate of the embedding tables (default 5; the loss is a batch\n"
          "                    mean, so a row's step is X/B times its samples' gradient)\n"
          "  --drift P         popularity drifts through P phases while training; the test set\n"
          "                    is drawn from the last phase (default 1: stationary)\n"
          "  --seed S          data, model and table seed (default 1)\n"
          "  --jobs J          runs in parallel, one thread each (default: the cores)\n"
          "  --csv FILE        also write the results as CSV\n"
          "  --json FILE       also write the results as JSON\n"
          "  --data FILE       real Criteo Kaggle TSV instead of generated data: the first --train\n"
          "                    lines train, the next --test lines test; each field's value is\n"
          "                    hashed into max(2, round(cardinality x scale)) ids\n"
          "  --quiet           no progress on stderr\n"
          "  --help            this text\n\nmethods:\n";
    for (const method_info& m : all_methods())
        os << "  " << m.name << std::string(13 - std::string(m.name).size(), ' ') << m.description
           << "\n";
}

config parse(int argc, char** argv) {
    config c;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            usage(std::cout);
            std::exit(0);
        }
        if (a == "--quiet") {
            c.quiet = true;
            continue;
        }
        if (i + 1 >= argc) throw std::invalid_argument("option " + a + " needs a value (see --help)");
        const std::string v = argv[++i];
        const auto count = [&](const char* what) {
            const double x = parse_numbers(v, what).at(0);
            if (!(x >= 0) || x != static_cast<double>(static_cast<std::uint64_t>(x)))
                throw std::invalid_argument(std::string(what) + ": '" + v +
                                            "' is not a non-negative integer");
            return static_cast<std::uint64_t>(x);
        };
        if (a == "--methods") c.methods = split_list(v);
        else if (a == "--ratios") c.ratios = parse_numbers(v, "--ratios");
        else if (a == "--scale") c.scale = parse_numbers(v, "--scale").at(0);
        else if (a == "--train") c.train = count("--train");
        else if (a == "--test") c.test = count("--test");
        else if (a == "--dim") c.dim = count("--dim");
        else if (a == "--batch") c.batch = count("--batch");
        else if (a == "--lr") c.lr = static_cast<float>(parse_numbers(v, "--lr").at(0));
        else if (a == "--table-lr") c.table_lr = static_cast<float>(parse_numbers(v, "--table-lr").at(0));
        else if (a == "--drift") c.drift = count("--drift");
        else if (a == "--seed") c.seed = count("--seed");
        else if (a == "--jobs") c.jobs = static_cast<unsigned>(count("--jobs"));
        else if (a == "--csv") c.csv = v;
        else if (a == "--json") c.json = v;
        else if (a == "--data") c.data = v;
        else throw std::invalid_argument("unknown option " + a + " (see --help)");
    }
    if (c.methods.empty()) throw std::invalid_argument("--methods: no method given");
    for (const std::string& m : c.methods) find_method(m);
    for (double r : c.ratios)
        if (!(r >= 1)) throw std::invalid_argument("--ratios: " + std::to_string(r) + " is below 1");
    if (!(c.scale > 0 && c.scale <= 100)) throw std::invalid_argument("--scale must be in (0, 100]");
    if (c.dim == 0 || c.batch == 0 || c.drift == 0 || c.jobs == 0)
        throw std::invalid_argument("--dim, --batch, --drift and --jobs must be at least 1");
    if (c.train == 0 || c.test == 0) throw std::invalid_argument("--train and --test must be at least 1");
    if (!(c.lr > 0) || !(c.table_lr > 0)) throw std::invalid_argument("--lr and --table-lr must be > 0");
    return c;
}

int run(const config& c) {
    if (!c.quiet) std::fprintf(stderr, "preparing data...\n");
    const data_setup data = c.data.empty()
                                ? synthetic_setup(c.scale, c.train, c.test, c.drift, c.seed)
                                : criteo_setup(c.data, c.scale, c.train, c.test, c.seed);
    if (data.train.size == 0 || data.test.size == 0)
        throw std::runtime_error("no training or no test samples (is the data file long enough?)");

    experiment ex;
    ex.train = &data.train;
    ex.test = &data.test;
    ex.field_sizes = data.field_sizes;
    ex.model.dim = c.dim;
    ex.model.seed = c.seed;
    ex.training.batch = c.batch;
    ex.training.lr = c.lr;
    ex.table_lr = c.table_lr;
    const std::vector<grid_job> jobs = make_jobs(c.methods, c.ratios, c.dim);

    std::cout << "DLRM (bottom 13-64-" << c.dim << ", dot interaction, top "
              << c.dim + 351 << "-64-1), one epoch of SGD, batch " << c.batch << ", lr " << c.lr
              << " (MLPs) / " << c.table_lr << " (tables)\n"
              << data.description << "\n\n" << std::flush;
    progress report(static_cast<std::uint64_t>(jobs.size()) * data.train.size, jobs.size(), !c.quiet);
    const auto results = run_grid(jobs, ex, c.jobs, &report);
    print_results(std::cout, results, data.optimum_auc, data.optimum_log_loss, c.table_lr);

    if (!c.csv.empty()) {
        std::ofstream f(c.csv);
        f << csv_header() << "\n";
        for (const run_result& r : results) f << csv_row(c.drift > 1 ? "drift" : "stationary", r) << "\n";
        if (!f) throw std::runtime_error("cannot write " + c.csv);
    }
    if (!c.json.empty()) {
        std::ofstream f(c.json);
        f << "{\"data\": " << json_string(data.description)
          << ", \"optimum_auc\": " << json_number(data.optimum_auc)
          << ", \"optimum_log_loss\": " << json_number(data.optimum_log_loss)
          << ", \"dim\": " << c.dim << ", \"batch\": " << c.batch << ", \"lr\": " << c.lr
          << ", \"table_lr\": " << c.table_lr << ",\n \"results\": [\n";
        for (std::size_t i = 0; i < results.size(); ++i)
            f << "  " << json_object(results[i]) << (i + 1 < results.size() ? ",\n" : "\n");
        f << "]}\n";
        if (!f) throw std::runtime_error("cannot write " + c.json);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse(argc, argv));
    } catch (const std::exception& e) {
        std::cerr << "train_dlrm: " << e.what() << "\n";
        return 1;
    }
}
