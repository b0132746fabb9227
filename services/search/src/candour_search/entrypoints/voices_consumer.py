"""Search's subscriber to insight.voices: the newest mix of voices per programme."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from candour_common.cloudevents import Envelope
from candour_common.events import VoicesSummarised
from candour_common.messaging import event_subscriber
from candour_common.runtime import PlatformRef
from candour_common.settings import ServiceSettings
from candour_common.topics import Topic
from candour_search.service_layer import voices


def register(broker: KafkaBroker, settings: ServiceSettings, ref: PlatformRef) -> None:
    @event_subscriber(
        broker,
        settings.topics,
        Topic.INSIGHT_VOICES,
        group_id=settings.group_id,
        title="search:insight.voices",
        description=(
            'Keep each programme\'s newest summary of "about you" answers (counts, small '
            "ones suppressed) for the deep dive's voices view."
        ),
    )
    async def on_voices_summarised(event: VoicesSummarised, envelope: Envelope) -> None:
        await voices.record_voices(ref.get.pool, event, event_id=envelope.id)
