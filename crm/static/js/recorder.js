// The visit form's voice note: recorded on the phone (at most 2 minutes, stopped by itself),
// kept with the outbox item as a Blob and sent as voice_note. Without a microphone API the
// plain file input stays, and its file travels the same way.

var VOICE_MAX_S = 120;

function pad(n) { return (n < 10 ? "0" : "") + n; }

function clock(seconds) { return Math.floor(seconds / 60) + ":" + pad(Math.floor(seconds % 60)); }

// Takes over the form's voice_note input; say(name, value) gives the page's words.
export function voiceRecorder(voicePicker, say) {
  var recorder = document.getElementById("visit-recorder");
  var voiceRecord = document.getElementById("voice-record");
  var voiceStop = document.getElementById("voice-stop");
  var voiceTime = document.getElementById("voice-time");
  var voiceRecorded = document.getElementById("voice-recorded");
  var voicePlayback = document.getElementById("voice-playback");
  var voiceNote = null;
  var voiceUrl = null;
  var voiceSession = null;

  function showVoice() {
    var recording = !!voiceSession;
    voiceRecord.hidden = recording || !!voiceNote;
    voiceStop.hidden = !recording;
    voiceTime.hidden = !recording && !voiceNote;
    voiceTime.classList.toggle("is-recording", recording);
    voiceRecorded.hidden = !voiceNote;
    if (voiceUrl) { URL.revokeObjectURL(voiceUrl); voiceUrl = null; }
    if (voiceNote) {
      voiceUrl = URL.createObjectURL(voiceNote);
      voicePlayback.src = voiceUrl;
    } else {
      voicePlayback.removeAttribute("src");
    }
  }

  function stopVoice() {
    if (voiceSession && voiceSession.recorder.state !== "inactive") { voiceSession.recorder.stop(); }
  }

  function recordVoice() {
    var types = ["audio/webm;codecs=opus", "audio/mp4", "audio/ogg;codecs=opus"];
    var type = types.filter(function (t) { return MediaRecorder.isTypeSupported(t); })[0];
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      var chunks = [];
      var started = Date.now();
      var rec = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
      voiceSession = { recorder: rec, timer: null };
      rec.addEventListener("dataavailable", function (event) { if (event.data.size) { chunks.push(event.data); } });
      rec.addEventListener("stop", function () {
        window.clearInterval(voiceSession.timer);
        stream.getTracks().forEach(function (track) { track.stop(); });
        var discarded = voiceSession.discard;
        voiceSession = null;
        voiceNote = discarded ? null : new Blob(chunks, { type: (rec.mimeType || type || "audio/webm").split(";")[0] });
        voiceTime.textContent = say("voice-length", clock((Date.now() - started) / 1000));
        showVoice();
        if (voiceNote) { voicePlayback.focus(); }
      });
      voiceSession.timer = window.setInterval(function () {
        var seconds = (Date.now() - started) / 1000;
        voiceTime.textContent = clock(seconds) + " / " + clock(VOICE_MAX_S);
        if (seconds >= VOICE_MAX_S - 0.5) { stopVoice(); }  // the server refuses longer notes
      }, 250);
      voiceTime.textContent = clock(0) + " / " + clock(VOICE_MAX_S);
      rec.start(1000);
      showVoice();
      voiceStop.focus();
    }).catch(function () {
      var place = voicePicker.closest(".field");
      var note = document.createElement("p");
      note.className = "error js-error";
      note.textContent = say("voice-denied");
      place.appendChild(note);
    });
  }

  function clearVoice() {
    if (voiceSession) { voiceSession.discard = true; }
    stopVoice();
    voiceNote = null;
    voicePicker.value = "";
    showVoice();
  }

  if (window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    voicePicker.hidden = true;
    recorder.hidden = false;
    voiceRecord.addEventListener("click", recordVoice);
    voiceStop.addEventListener("click", stopVoice);
    document.getElementById("voice-remove").addEventListener("click", function () {
      clearVoice();
      voiceRecord.focus();
    });
  }

  return {
    // The recording, or else the file picked where there is no recorder.
    note: function () { return voiceNote || (voicePicker.files && voicePicker.files[0]) || null; },
    clear: clearVoice
  };
}
