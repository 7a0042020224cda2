//! The TwiML the connector answers incoming calls with, built from config:
//! forward the call (`<Dial>` to `forward_to`), or take a message
//! (`<Say>` the greeting, then `<Record>` with transcription).

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::text::escape_xml;

/// Spoken before recording when config `greeting` is not set.
pub const DEFAULT_GREETING: &str = "Thank you for calling. Please leave a message after the tone.";

/// Twilio transcribes recordings of at most two minutes.
const MAX_MESSAGE_SECONDS: u32 = 120;

/// How the instance answers calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Spoken first (`<Say>`).
    pub greeting: Option<String>,
    /// Where to connect the caller: E.164 number, `client:name` or `sip:` URI.
    pub forward_to: Option<String>,
    /// Record forwarded calls.
    pub record_calls: bool,
    /// Transcribe voicemail.
    pub transcribe: bool,
}

impl Answer {
    /// Reads config `greeting`, `forward_to`, `record_calls` and `transcribe`.
    pub fn read(host: &Host) -> Result<Self, PluginError> {
        Ok(Self {
            greeting: host.config("greeting")?,
            forward_to: host.config("forward_to")?,
            record_calls: host.config_or("record_calls", false)?,
            transcribe: host.config_or("transcribe", true)?,
        })
    }

    /// The TwiML document; callbacks go to routes below `public_url`.
    pub fn twiml(&self, public_url: &str) -> String {
        let recording_callback = format!("{public_url}/voice/recording");
        let mut verbs = String::new();
        match &self.forward_to {
            Some(target) => {
                if let Some(greeting) = &self.greeting {
                    verbs.push_str(&format!("<Say>{}</Say>", escape_xml(greeting)));
                }
                let record = if self.record_calls {
                    format!(
                        r#" record="record-from-answer-dual" recordingStatusCallback="{}""#,
                        escape_xml(&recording_callback)
                    )
                } else {
                    String::new()
                };
                verbs.push_str(&format!("<Dial{record}>{}</Dial>", dial_noun(target)));
            }
            None => {
                let greeting = self.greeting.as_deref().unwrap_or(DEFAULT_GREETING);
                let transcribe = if self.transcribe {
                    format!(
                        r#" transcribe="true" transcribeCallback="{}""#,
                        escape_xml(&format!("{public_url}/voice/transcription"))
                    )
                } else {
                    String::new()
                };
                // Without an `action`, Twilio posts the finished recording back
                // to this same URL; `incoming` then hangs up.
                verbs.push_str(&format!(
                    r#"<Say>{}</Say><Record maxLength="{MAX_MESSAGE_SECONDS}"{transcribe} recordingStatusCallback="{}"/>"#,
                    escape_xml(greeting),
                    escape_xml(&recording_callback)
                ));
            }
        }
        document(&verbs)
    }
}

/// A TwiML document around `verbs`.
pub fn document(verbs: &str) -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{verbs}</Response>"#)
}

/// An HTTP answer carrying TwiML.
pub fn response(document: String) -> Response {
    Response::content("text/xml", document)
}

fn dial_noun(target: &str) -> String {
    match target.split_once(':') {
        Some(("client", name)) => format!("<Client>{}</Client>", escape_xml(name)),
        Some(("sip", _)) => format!("<Sip>{}</Sip>", escape_xml(target)),
        _ => format!("<Number>{}</Number>", escape_xml(target)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://omni.example.com/hooks/voice";

    fn answer() -> Answer {
        Answer {
            greeting: None,
            forward_to: None,
            record_calls: false,
            transcribe: true,
        }
    }

    #[test]
    fn voicemail_records_and_transcribes() {
        assert_eq!(
            answer().twiml(URL),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
             <Say>Thank you for calling. Please leave a message after the tone.</Say>\
             <Record maxLength=\"120\" transcribe=\"true\" \
             transcribeCallback=\"https://omni.example.com/hooks/voice/voice/transcription\" \
             recordingStatusCallback=\"https://omni.example.com/hooks/voice/voice/recording\"/>\
             </Response>"
        );
        let quiet = Answer {
            greeting: Some("Tom & Jerry's <shop>".into()),
            transcribe: false,
            ..answer()
        };
        assert_eq!(
            quiet.twiml(URL),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
             <Say>Tom &amp; Jerry&apos;s &lt;shop&gt;</Say>\
             <Record maxLength=\"120\" recordingStatusCallback=\"https://omni.example.com/hooks/voice/voice/recording\"/>\
             </Response>"
        );
    }

    #[test]
    fn forwarding_dials_the_target() {
        let forward = Answer {
            greeting: Some("Connecting you.".into()),
            forward_to: Some("+14155550199".into()),
            record_calls: true,
            ..answer()
        };
        assert_eq!(
            forward.twiml(URL),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Connecting you.</Say>\
             <Dial record=\"record-from-answer-dual\" \
             recordingStatusCallback=\"https://omni.example.com/hooks/voice/voice/recording\">\
             <Number>+14155550199</Number></Dial></Response>"
        );
        assert_eq!(dial_noun("client:alice"), "<Client>alice</Client>");
        assert_eq!(
            dial_noun("sip:desk@pbx.example.com"),
            "<Sip>sip:desk@pbx.example.com</Sip>"
        );
    }
}
