//! `mlrb config`: the config file that was read and every resolved setting with its source.

use crate::context::{Ctx, Result};
use crate::error::ExitStatus;

pub fn run(ctx: &Ctx) -> Result<ExitStatus> {
    let sources = &ctx.settings.sources;
    if ctx.printer.json() {
        ctx.printer.out_json(sources);
        return Ok(ExitStatus::Success);
    }
    let mut t = crate::printer::table();
    t.set_header(vec!["setting", "value", "from"]);
    for s in sources {
        t.add_row(vec![s.key.as_str(), s.value.as_str(), s.source.as_str()]);
    }
    ctx.printer.out(&t.to_string());
    Ok(ExitStatus::Success)
}
