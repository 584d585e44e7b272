//! The workload file of `../shared/peers` (schema `nnpool-pool-workloads/1`): a minimal JSON
//! reader and the mapping of a workload to an nnpool pooling. Shared by the report example and
//! the criterion benchmarks.

use std::collections::BTreeMap;

use nnpool::{Layout, Pool2d, TensorDesc};

/// A parsed JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    /// Parses a whole document.
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing characters at byte {}", p.i));
        }
        Ok(v)
    }

    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.get(key),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(m));
                }
                loop {
                    self.ws();
                    let k = match self.value()? {
                        Json::Str(k) => k,
                        _ => return Err(format!("object key expected at byte {}", self.i)),
                    };
                    self.eat(b':')?;
                    let v = self.value()?;
                    m.insert(k, v);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(m));
                        }
                        _ => return Err(format!("',' or '}}' expected at byte {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(v));
                }
                loop {
                    v.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(v));
                        }
                        _ => return Err(format!("',' or ']' expected at byte {}", self.i)),
                    }
                }
            }
            Some(b'"') => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    let c = *self.s.get(self.i).ok_or("unterminated string")?;
                    self.i += 1;
                    match c {
                        b'"' => return Ok(Json::Str(out)),
                        b'\\' => {
                            let e = *self.s.get(self.i).ok_or("bad escape")?;
                            self.i += 1;
                            out.push(match e {
                                b'n' => '\n',
                                b't' => '\t',
                                b'r' => '\r',
                                b'u' => {
                                    let hex = self.s.get(self.i..self.i + 4).ok_or("bad \\u")?;
                                    self.i += 4;
                                    let code = u32::from_str_radix(
                                        std::str::from_utf8(hex).map_err(|e| e.to_string())?,
                                        16,
                                    )
                                    .map_err(|e| e.to_string())?;
                                    char::from_u32(code).unwrap_or('\u{fffd}')
                                }
                                other => other as char,
                            });
                        }
                        _ => {
                            // Copy a whole UTF-8 sequence.
                            let start = self.i - 1;
                            let mut end = self.i;
                            while end < self.s.len() && (self.s[end] & 0xc0) == 0x80 {
                                end += 1;
                            }
                            out.push_str(
                                std::str::from_utf8(&self.s[start..end])
                                    .map_err(|e| e.to_string())?,
                            );
                            self.i = end;
                        }
                    }
                }
            }
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Json::Bool(true))
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Json::Bool(false))
            }
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Json::Null)
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
                t.parse::<f64>()
                    .map(Json::Num)
                    .map_err(|_| format!("bad value at byte {start}"))
            }
            None => Err("unexpected end of input".into()),
        }
    }
}

/// One pooling workload.
#[derive(Clone, Debug)]
pub struct Workload {
    pub id: String,
    pub op: String,
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// top, left, bottom, right
    pub padding: [usize; 4],
    pub dilation: [usize; 2],
    pub ceil_mode: bool,
    pub count_include_pad: bool,
    pub output_size: Option<[usize; 2]>,
    pub layouts: Vec<Layout>,
}

fn pair(v: Option<&Json>, default: Option<[usize; 2]>, what: &str) -> Result<[usize; 2], String> {
    match v {
        Some(Json::Num(x)) => Ok([*x as usize; 2]),
        Some(Json::Arr(a)) if a.len() == 2 => match (&a[0], &a[1]) {
            (Json::Num(h), Json::Num(w)) => Ok([*h as usize, *w as usize]),
            _ => Err(format!("{what}: numbers expected")),
        },
        None | Some(Json::Null) => default.ok_or(format!("{what} missing")),
        _ => Err(format!("{what}: int or [h, w] expected")),
    }
}

impl Workload {
    fn from_json(j: &Json) -> Result<Workload, String> {
        let num = |k: &str| match j.get(k) {
            Some(Json::Num(x)) => Ok(*x as usize),
            _ => Err(format!("field {k} missing or not a number")),
        };
        let boolean = |k: &str| matches!(j.get(k), Some(Json::Bool(true)));
        let id = match j.get("id") {
            Some(Json::Str(s)) => s.clone(),
            _ => return Err("workload without id".into()),
        };
        let op = match j.get("op") {
            Some(Json::Str(s)) => s.clone(),
            _ => return Err(format!("{id}: op missing")),
        };
        let kernel = pair(j.get("kernel"), Some([1, 1]), "kernel")?;
        let stride = pair(j.get("stride"), Some(kernel), "stride")?;
        let dilation = pair(j.get("dilation"), Some([1, 1]), "dilation")?;
        let padding = match j.get("padding") {
            Some(Json::Arr(a)) if a.len() == 4 => {
                let mut p = [0; 4];
                for (d, v) in p.iter_mut().zip(a) {
                    *d = match v {
                        Json::Num(x) => *x as usize,
                        _ => return Err(format!("{id}: padding numbers expected")),
                    };
                }
                p
            }
            other => {
                let [h, w] = pair(other, Some([0, 0]), "padding")?;
                [h, w, h, w]
            }
        };
        let output_size = match j.get("output_size") {
            None | Some(Json::Null) => None,
            v => Some(pair(v, None, "output_size")?),
        };
        let layouts = match j.get("layouts") {
            Some(Json::Arr(a)) => a
                .iter()
                .map(|l| match l {
                    Json::Str(s) if s == "NCHW" => Ok(Layout::Nchw),
                    Json::Str(s) if s == "NHWC" => Ok(Layout::Nhwc),
                    _ => Err(format!("{id}: unknown layout {l:?}")),
                })
                .collect::<Result<_, _>>()?,
            _ => vec![Layout::Nchw, Layout::Nhwc],
        };
        Ok(Workload {
            op,
            n: num("n")?,
            c: num("c")?,
            h: num("h")?,
            w: num("w")?,
            kernel,
            stride,
            padding,
            dilation,
            ceil_mode: boolean("ceil_mode"),
            count_include_pad: boolean("count_include_pad"),
            output_size,
            layouts,
            id,
        })
    }

    /// Reads a workload file: `{"workloads": [...]}` or a bare list.
    pub fn load(path: &str) -> Result<Vec<Workload>, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let j = Json::parse(&text).map_err(|e| format!("{path}: {e}"))?;
        let list = match &j {
            Json::Arr(a) => a,
            Json::Obj(_) => match j.get("workloads") {
                Some(Json::Arr(a)) => a,
                _ => return Err(format!("{path}: no \"workloads\" list")),
            },
            _ => return Err(format!("{path}: not a workload file")),
        };
        list.iter().map(Workload::from_json).collect()
    }

    /// The nnpool pooling this workload describes.
    pub fn pool(&self) -> Result<Pool2d, String> {
        let [kh, kw] = self.kernel;
        let common = |p: Pool2d| {
            p.stride((self.stride[0], self.stride[1]))
                .padding(self.padding)
                .ceil_mode(self.ceil_mode)
        };
        Ok(match self.op.as_str() {
            "max" => common(Pool2d::max((kh, kw))).dilation((self.dilation[0], self.dilation[1])),
            "avg" => common(Pool2d::avg((kh, kw))).count_include_pad(self.count_include_pad),
            "global_avg" => Pool2d::global_avg(),
            "global_max" => Pool2d::global_max(),
            "adaptive_avg" | "adaptive_max" => {
                let [oh, ow] = self
                    .output_size
                    .ok_or(format!("{}: output_size", self.id))?;
                if self.op == "adaptive_avg" {
                    Pool2d::adaptive_avg((oh, ow))
                } else {
                    Pool2d::adaptive_max((oh, ow))
                }
            }
            other => return Err(format!("{}: unknown op {other}", self.id)),
        })
    }

    /// The input descriptor in a layout.
    pub fn input_desc(&self, layout: Layout) -> TensorDesc {
        TensorDesc::new(nnpool::Shape::new(self.n, self.c, self.h, self.w), layout)
    }
}
