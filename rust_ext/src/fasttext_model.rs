//! fastText prediction over a whole string column, with the GIL released: the preprocessing of
//! `curate/classify/text.py`, then each row's top-k labels as C++ fastText's `predictLine` gives them.
//!
//! The `fasttext` crate reads the arguments and the dictionary and tokenises (words, character n-grams,
//! word n-grams, the pruned-bucket index of `.ftz` files); the matrices and the prediction are here, because
//! the crate's own prediction differs from C++ fastText: it leaves the end-of-line token out of the word
//! n-grams, and normalises quantized hierarchical-softmax models (lid.176.ftz) with a flat softmax. The
//! arithmetic below follows C++ fastText operation for operation (float sums in row order, the 512-entry
//! sigmoid table of the binary-logistic losses, `log(p + 1e-5)` scores, the hierarchical softmax's tree
//! search pruned below `log(1e-5)`), so that the probabilities agree with fastText's Python module, the
//! reference of `tests/test_classify_native.py`, to float rounding.

use std::fs::File;
use std::io::{BufReader, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

use fasttext::args::{Args, LossName, ModelName};
use fasttext::dictionary::{Dictionary, EntryType};

use crate::error::{KernelError, KernelResult};
use crate::fasttext_matrix::{read_bool, read_matrix, Dense};
use crate::fasttext_tokens::{LineScratch, Tokenizer, EOS};

const MAGIC: i32 = 793_712_314;
const MAX_VERSION: i32 = 12;
const SIGMOID_TABLE_SIZE: usize = 512;
const MAX_SIGMOID: f32 = 8.0;

/// A node of the hierarchical softmax's Huffman tree over the labels (C++ `buildTree`).
#[derive(Clone, Copy)]
struct Node {
    left: i64,
    right: i64,
    count: i64,
}

enum Output {
    Softmax,
    /// One-vs-all and negative sampling: an independent sigmoid per label (the table).
    Sigmoid(Vec<f32>),
    Tree(Vec<Node>),
}

/// A loaded supervised model and its labels (with their `__label__` prefix) in dictionary order.
pub struct Model {
    dict: Dictionary,
    tokenizer: Tokenizer,
    input: Dense,
    output: Dense,
    kind: Output,
    labels: Vec<String>,
}

/// Per row: how many predictions it has (0 for an empty text), then the label indexes and probabilities of
/// all rows one after another.
#[derive(Default)]
pub struct Predictions {
    pub counts: Vec<u32>,
    pub labels: Vec<u32>,
    pub probabilities: Vec<f32>,
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

fn crate_error(error: fasttext::FastTextError) -> KernelError {
    KernelError::value(error.to_string())
}

/// C++ `Loss::std_log`: computed in double, stored as float.
fn std_log(x: f32) -> f32 {
    (f64::from(x) + 1e-5).ln() as f32
}

fn sigmoid_table() -> Vec<f32> {
    // C++: x is a float, std::exp(float) a float, the division a double stored as float.
    (0..=SIGMOID_TABLE_SIZE)
        .map(|i| {
            let x = (i as f32 * 2.0 * MAX_SIGMOID) / SIGMOID_TABLE_SIZE as f32 - MAX_SIGMOID;
            (1.0 / (1.0 + f64::from((-x).exp()))) as f32
        })
        .collect()
}

fn table_sigmoid(table: &[f32], x: f32) -> f32 {
    if x < -MAX_SIGMOID {
        0.0
    } else if x > MAX_SIGMOID {
        1.0
    } else {
        let i = ((x + MAX_SIGMOID) * SIGMOID_TABLE_SIZE as f32 / MAX_SIGMOID / 2.0) as usize;
        table[i.min(SIGMOID_TABLE_SIZE)]
    }
}

fn build_tree(counts: &[i64]) -> Vec<Node> {
    let osz = counts.len();
    let mut tree = vec![
        Node {
            left: -1,
            right: -1,
            count: 1_000_000_000_000_000
        };
        2 * osz - 1
    ];
    for (node, &count) in tree.iter_mut().zip(counts) {
        node.count = count;
    }
    let mut leaf = osz as i64 - 1;
    let mut next = osz;
    for i in osz..2 * osz - 1 {
        let mut pick = [0usize; 2];
        for slot in &mut pick {
            if leaf >= 0 && tree[leaf as usize].count < tree[next].count {
                *slot = leaf as usize;
                leaf -= 1;
            } else {
                *slot = next;
                next += 1;
            }
        }
        tree[i].left = pick[0] as i64;
        tree[i].right = pick[1] as i64;
        tree[i].count = tree[pick[0]].count + tree[pick[1]].count;
    }
    tree
}

/// C++ `DenseMatrix::dotRow`: a float sum in column order.
#[inline]
fn dot(row: &[f32], hidden: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (a, b) in row.iter().zip(hidden) {
        sum += a * b;
    }
    sum
}

/// The best `k` of `(score, label)` pairs seen so far, kept as C++ fastText keeps them: a heap under
/// `comparePairs` (`l.score > r.score`, so the worst pair is on top) maintained by libstdc++'s `push_heap` /
/// `pop_heap`, then `sort_heap`. Equal scores (frequent with the sigmoid table of the one-vs-all and
/// negative-sampling losses) are ordered by those algorithms, so they are reproduced step by step.
struct Best {
    k: usize,
    heap: Vec<(f32, u32)>,
}

fn before(l: (f32, u32), r: (f32, u32)) -> bool {
    l.0 > r.0
}

impl Best {
    fn full_and_above(&self, score: f32) -> bool {
        self.heap.len() == self.k && self.heap.first().is_some_and(|&(worst, _)| score < worst)
    }

    /// libstdc++ `__push_heap`: move `value` up from `hole` towards `top`.
    fn sift_up(&mut self, mut hole: usize, top: usize, value: (f32, u32)) {
        while hole > top {
            let parent = (hole - 1) / 2;
            if !before(self.heap[parent], value) {
                break;
            }
            self.heap[hole] = self.heap[parent];
            hole = parent;
        }
        self.heap[hole] = value;
    }

    /// libstdc++ `__adjust_heap` over the first `len` items, starting from the hole at 0.
    fn adjust(&mut self, len: usize, value: (f32, u32)) {
        let mut hole = 0;
        let mut child = 0;
        while len > 0 && child < (len - 1) / 2 {
            child = 2 * (child + 1);
            if before(self.heap[child], self.heap[child - 1]) {
                child -= 1;
            }
            self.heap[hole] = self.heap[child];
            hole = child;
        }
        if len.is_multiple_of(2) && len >= 2 && child == (len - 2) / 2 {
            child = 2 * (child + 1);
            self.heap[hole] = self.heap[child - 1];
            hole = child - 1;
        }
        self.sift_up(hole, 0, value);
    }

    /// libstdc++ `pop_heap` over the first `len` items: the top goes to `len - 1`.
    fn pop(&mut self, len: usize) {
        if len > 1 {
            let value = self.heap[len - 1];
            self.heap[len - 1] = self.heap[0];
            self.adjust(len - 1, value);
        }
    }

    fn push(&mut self, score: f32, label: u32) {
        self.heap.push((score, label));
        let last = self.heap.len() - 1;
        self.sift_up(last, 0, (score, label));
        if self.heap.len() > self.k {
            self.pop(self.heap.len());
            self.heap.pop();
        }
    }

    /// libstdc++ `sort_heap`: best first.
    fn sorted(mut self) -> Vec<(f32, u32)> {
        let mut len = self.heap.len();
        while len > 1 {
            self.pop(len);
            len -= 1;
        }
        self.heap
    }
}

impl Model {
    /// Load `path`. The caller has already checked the file's structure (`curate/classify/model_file.py`);
    /// whatever is still wrong, even a panic of the crate's reader, is a `ValueError`.
    pub fn load(path: &Path) -> KernelResult<Self> {
        let file = File::open(path)
            .map_err(|err| KernelError::value(format!("cannot read the model: {err}")))?;
        let mut reader = BufReader::new(file);
        catch_unwind(AssertUnwindSafe(|| Self::read(&mut reader)))
            .map_err(|payload| KernelError::value(panic_message(payload)))?
    }

    fn read(reader: &mut impl Read) -> KernelResult<Self> {
        let mut word = [0u8; 4];
        reader
            .read_exact(&mut word)
            .map_err(|_| KernelError::value("empty file"))?;
        if i32::from_le_bytes(word) != MAGIC {
            return Err(KernelError::value(
                "not a fastText model (wrong magic number)",
            ));
        }
        reader
            .read_exact(&mut word)
            .map_err(|_| KernelError::value("the file ends in its header"))?;
        let version = i32::from_le_bytes(word);
        if version > MAX_VERSION {
            return Err(KernelError::value(format!(
                "unsupported fastText version {version}"
            )));
        }
        let mut args = Args::default();
        args.load(reader).map_err(crate_error)?;
        if args.model != ModelName::Supervised {
            return Err(KernelError::value(
                "not a supervised (classification) model",
            ));
        }
        if version == 11 {
            args.maxn = 0;
        }
        let dim = usize::try_from(args.dim).unwrap_or(0);
        let loss = args.loss;
        let dict = Dictionary::load_from_reader(reader, Arc::new(args)).map_err(crate_error)?;
        let quantized = read_bool(reader, "input matrix")?;
        let input = read_matrix(reader, quantized, "input matrix")?;
        let quantized_output = read_bool(reader, "output matrix")?;
        let output = read_matrix(reader, quantized_output, "output matrix")?;
        let mut rest = [0u8; 1];
        if reader
            .read(&mut rest)
            .map_err(|e| KernelError::value(e.to_string()))?
            != 0
        {
            return Err(KernelError::value("bytes after the end of the model"));
        }
        let labels = (0..dict.nlabels())
            .map(|i| Ok(dict.get_label(i).map_err(crate_error)?.to_string()))
            .collect::<KernelResult<Vec<String>>>()?;
        let counts = dict.get_counts(EntryType::Label);
        if labels.is_empty() {
            return Err(KernelError::value("the model has no labels"));
        }
        // One output row per label (the hierarchical softmax uses the first labels - 1, for its inner nodes).
        if input.cols != dim || output.cols != dim || output.rows != labels.len() {
            return Err(KernelError::value(format!(
                "matrices of {} x {} and {} x {} do not fit dim {dim} and {} labels",
                input.rows,
                input.cols,
                output.rows,
                output.cols,
                labels.len()
            )));
        }
        let kind = match loss {
            LossName::HierarchicalSoftmax => Output::Tree(build_tree(&counts)),
            LossName::Softmax => Output::Softmax,
            LossName::NegativeSampling | LossName::OneVsAll => Output::Sigmoid(sigmoid_table()),
        };
        let tokenizer = Tokenizer::new(&dict)?;
        Ok(Self {
            dict,
            tokenizer,
            input,
            output,
            kind,
            labels,
        })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The top `k` labels of every text (`None`: a null row, treated as empty).
    pub fn predict<'a>(
        &self,
        texts: impl Iterator<Item = KernelResult<Option<&'a str>>>,
        k: usize,
        max_chars: usize,
    ) -> KernelResult<Predictions> {
        let mut out = Predictions::default();
        let mut scratch = Scratch::default();
        for text in texts {
            let text = text?.unwrap_or("");
            if !prepare_line(text, max_chars, &mut scratch.line) {
                out.counts.push(0);
                continue;
            }
            let best = self.predict_line(&mut scratch, k)?;
            out.counts.push(best.len() as u32);
            for (score, label) in best {
                out.labels.push(label);
                out.probabilities.push(score.exp().min(1.0));
            }
        }
        Ok(out)
    }

    /// C++ `FastText::predictLine` on the prepared line in `scratch.line`: `(log score, label)`, best first.
    fn predict_line(&self, scratch: &mut Scratch, k: usize) -> KernelResult<Vec<(f32, u32)>> {
        // C++ reads a line up to and including its end-of-line token: "</s>" is one of the line's words
        // (and forms word n-grams with the last word).
        scratch.line.push(' ');
        scratch.line.push_str(EOS);
        self.tokenizer
            .line(&self.dict, &scratch.line, &mut scratch.tokens);
        let words = &scratch.tokens.ids;
        if words.is_empty() {
            return Ok(Vec::new());
        }
        for &id in words {
            if usize::try_from(id).map_or(true, |r| r >= self.input.rows) {
                return Err(KernelError::value(format!(
                    "word id {id} outside the model"
                )));
            }
        }
        let hidden = &mut scratch.hidden;
        hidden.clear();
        hidden.resize(self.input.cols, 0.0);
        self.input.add_rows(words, hidden);
        let scale = (1.0 / words.len() as f64) as f32;
        for h in hidden.iter_mut() {
            *h *= scale;
        }
        let mut best = Best {
            k: k.min(self.labels.len()),
            heap: Vec::with_capacity(k.min(self.labels.len()) + 1),
        };
        if best.k == 0 {
            return Ok(Vec::new());
        }
        match &self.kind {
            Output::Tree(tree) => {
                let root = 2 * self.labels.len() - 2;
                self.search(tree, root, 0.0, hidden, &mut best);
            }
            Output::Softmax => {
                let out = &mut scratch.output;
                out.clear();
                out.extend((0..self.output.rows).map(|i| dot(self.output.row(i), hidden)));
                let max = out.iter().copied().fold(out[0], f32::max);
                let mut z = 0.0f32;
                for value in out.iter_mut() {
                    *value = (*value - max).exp();
                    z += *value;
                }
                for value in out.iter_mut() {
                    *value /= z;
                }
                self.keep_best(out, &mut best);
            }
            Output::Sigmoid(table) => {
                let out = &mut scratch.output;
                out.clear();
                out.extend(
                    (0..self.output.rows)
                        .map(|i| table_sigmoid(table, dot(self.output.row(i), hidden))),
                );
                self.keep_best(out, &mut best);
            }
        }
        Ok(best.sorted())
    }

    /// C++ `Loss::findKBest` with threshold 0.
    fn keep_best(&self, probabilities: &[f32], best: &mut Best) {
        for (label, &p) in probabilities.iter().enumerate() {
            let score = std_log(p);
            if !best.full_and_above(score) {
                best.push(score, label as u32);
            }
        }
    }

    /// C++ `HierarchicalSoftmaxLoss::dfs` with threshold 0 (branches below `log(1e-5)` are not followed).
    fn search(&self, tree: &[Node], node: usize, score: f32, hidden: &[f32], best: &mut Best) {
        if score < std_log(0.0) || best.full_and_above(score) {
            return;
        }
        let here = tree[node];
        if here.left == -1 && here.right == -1 {
            best.push(score, node as u32);
            return;
        }
        let osz = self.labels.len();
        let f = dot(self.output.row(node - osz), hidden);
        // C++ `1. / (1 + std::exp(-f))`: exp and the sum in float, the division in double.
        let f = (1.0 / f64::from(1.0 + (-f).exp())) as f32;
        let (left, right) = (here.left as usize, here.right as usize);
        self.search(tree, left, score + std_log(1.0 - f), hidden, best);
        self.search(tree, right, score + std_log(f), hidden, best);
    }
}

#[derive(Default)]
struct Scratch {
    line: String,
    tokens: LineScratch,
    hidden: Vec<f32>,
    output: Vec<f32>,
}

/// fastText's word separators: ASCII whitespace, vertical tab and NUL (C++ fastText's `readWord`).
fn is_separator(c: char) -> bool {
    c.is_ascii_whitespace() || c == '\u{0B}' || c == '\0'
}

/// `text` as one fastText line in `line`: cut to its first `max_chars` characters (0: no cut) and every
/// separator a space (the crate's tokeniser splits on ASCII whitespace only; C++ also on `\v` and NUL; `\n`
/// would end a line early). False when nothing but separators is left: an empty document, not given to the
/// model.
pub fn prepare_line(text: &str, max_chars: usize, line: &mut String) -> bool {
    let cut = if max_chars > 0 && text.len() > max_chars {
        text.char_indices()
            .nth(max_chars)
            .map_or(text, |(end, _)| &text[..end])
    } else {
        text
    };
    line.clear();
    line.extend(cut.chars().map(|c| if is_separator(c) { ' ' } else { c }));
    line.chars().any(|c| c != ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_by_characters_and_separators_become_spaces() {
        let mut line = String::new();
        assert!(prepare_line("a\nb\u{0B}c\0d", 0, &mut line));
        assert_eq!(line, "a b c d");
        assert!(prepare_line("éé€x", 3, &mut line));
        assert_eq!(line, "éé€");
        assert!(!prepare_line(" \n\t\u{0B}\0\r\x0C", 0, &mut line));
        assert!(!prepare_line("", 5, &mut line));
        // A non-ASCII space is a word character for fastText.
        assert!(prepare_line("\u{A0}", 0, &mut line));
    }

    #[test]
    fn the_tree_is_fasttexts_huffman_tree() {
        // Counts in dictionary order (descending); the two rarest labels are joined first, and a tie
        // (5 and the inner node of 5) takes the inner node first.
        let tree = build_tree(&[5, 3, 2]);
        assert_eq!((tree[3].left, tree[3].right, tree[3].count), (2, 1, 5));
        assert_eq!((tree[4].left, tree[4].right, tree[4].count), (3, 0, 10));
    }

    #[test]
    fn a_file_that_is_no_model_is_an_error_not_a_panic() {
        let dir = std::env::temp_dir().join(format!("curate-ft-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let garbage = dir.join("garbage.bin");
        std::fs::write(&garbage, b"not a model at all").ok();
        assert!(Model::load(&garbage).is_err());
        let header_only = dir.join("header.bin");
        std::fs::write(&header_only, MAGIC.to_le_bytes()).ok();
        assert!(Model::load(&header_only).is_err());
        assert!(Model::load(&dir.join("missing.bin")).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
