use swarmdesk::domain::CaseId;
use swarmdesk::projection::CaseView;
fn lp(b: &[u8]) -> (&[u8], &[u8]) {
    let (l, r) = b.split_at(8);
    r.split_at(u64::from_be_bytes(l.try_into().unwrap()) as usize)
}
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (src, dst, num, den): (&str, &str, usize, usize) =
        (&a[1], &a[2], a[3].parse().unwrap(), a[4].parse().unwrap());
    let bytes = std::fs::read(src).unwrap();
    let (first, body) = lp(&bytes[4..]);
    let (second, rest) = lp(body);
    let mut cases: Vec<(CaseId, Box<CaseView>)> = postcard::from_bytes(first).unwrap();
    cases.extend(postcard::from_bytes::<Vec<(CaseId, Box<CaseView>)>>(second).unwrap());
    assert!(cases.windows(2).all(|w| w[0].0 < w[1].0));
    let (x, y) = cases.split_at(cases.len() * num / den);
    let mut out = bytes[..4].to_vec();
    for h in [x, y] {
        let b = postcard::to_allocvec(h).unwrap();
        out.extend((b.len() as u64).to_be_bytes());
        out.extend(b);
    }
    out.extend(rest);
    std::fs::write(dst, out).unwrap();
    println!("{} + {}", x.len(), y.len());
}
